import { describe, expect, it, vi } from "vitest";
import { createKeyedDispatcher } from "../../src/queue/keyed-dispatcher.ts";
import { retryDelayMs } from "../../src/queue/queues.ts";

/** A drain that records each run and finishes when the test says so. */
function controlledDrains() {
  const runs: string[] = [];
  const pending = new Map<string, () => void>();
  return {
    runs,
    drain: (key: string) =>
      new Promise<void>((resolve) => {
        runs.push(key);
        pending.set(key, resolve);
      }),
    async finish(key: string) {
      const resolve = pending.get(key);
      if (!resolve) throw new Error(`${key} is not running`);
      pending.delete(key);
      resolve();
      // Let the dispatcher's settle handlers run.
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe("keyed dispatcher", () => {
  it("drains at most `concurrency` keys at once, the others in the order they woke", async () => {
    const drains = controlledDrains();
    const dispatcher = createKeyedDispatcher({ concurrency: 2, drain: drains.drain, onError: () => {} });
    for (const key of ["a", "b", "c", "d"]) dispatcher.wake(key);
    expect(drains.runs).toEqual(["a", "b"]);
    await drains.finish("b");
    expect(drains.runs).toEqual(["a", "b", "c"]);
    await drains.finish("a");
    expect(drains.runs).toEqual(["a", "b", "c", "d"]);
    expect(dispatcher.running).toBe(2);
  });

  it("collapses wake-ups of a waiting key, and drains a busy key once more after it finishes", async () => {
    const drains = controlledDrains();
    const dispatcher = createKeyedDispatcher({ concurrency: 1, drain: drains.drain, onError: () => {} });
    dispatcher.wake("a");
    dispatcher.wake("b");
    dispatcher.wake("b");
    dispatcher.wake("a");
    dispatcher.wake("a");
    expect(drains.runs).toEqual(["a"]);
    await drains.finish("a");
    expect(drains.runs).toEqual(["a", "b"]);
    await drains.finish("b");
    expect(drains.runs).toEqual(["a", "b", "a"]);
    await drains.finish("a");
    expect(dispatcher.running).toBe(0);
    expect(drains.runs).toEqual(["a", "b", "a"]);
  });

  it("reports a failed drain and goes on with the next key", async () => {
    const failures: Array<[string, unknown]> = [];
    const ran: string[] = [];
    const dispatcher = createKeyedDispatcher({
      concurrency: 1,
      drain: async (key) => {
        ran.push(key);
        if (key === "bad") throw new Error("database gone");
      },
      onError: (key, error) => failures.push([key, error]),
    });
    dispatcher.wake("bad");
    dispatcher.wake("good");
    await vi.waitFor(() => expect(ran).toEqual(["bad", "good"]));
    expect(failures).toHaveLength(1);
    expect(failures[0]?.[0]).toBe("bad");
  });

  it("lets a key whose drain failed rest before it drains again, whatever wakes it meanwhile", async () => {
    vi.useFakeTimers();
    try {
      const ran: string[] = [];
      let fail = true;
      const dispatcher = createKeyedDispatcher({
        concurrency: 2,
        restMs: 5_000,
        drain: async (key) => {
          // Woken while it runs the first time (new work written), as a drain sending deliveries is.
          const first = !ran.includes(key);
          ran.push(key);
          await Promise.resolve();
          if (first) dispatcher.wake(key);
          if (key === "bad" && fail) throw new Error("database refused");
        },
        onError: () => {},
      });
      dispatcher.wake("bad");
      dispatcher.wake("good");
      await vi.advanceTimersByTimeAsync(10);
      // The good key drains again for its wake-up at once; the failed one does not.
      expect(ran.filter((key) => key === "good")).toEqual(["good", "good"]);
      expect(ran.filter((key) => key === "bad")).toEqual(["bad"]);
      dispatcher.wake("bad");
      await vi.advanceTimersByTimeAsync(4_000);
      expect(ran.filter((key) => key === "bad")).toEqual(["bad"]);
      fail = false;
      await vi.advanceTimersByTimeAsync(1_100);
      // Both wake-ups meanwhile collapse into one run once the rest is over.
      expect(ran.filter((key) => key === "bad")).toEqual(["bad", "bad"]);
      await dispatcher.stop(10);
    } finally {
      vi.useRealTimers();
    }
  });

  it("stop takes no new keys and waits for drains in flight, up to its timeout", async () => {
    const drains = controlledDrains();
    const dispatcher = createKeyedDispatcher({ concurrency: 4, drain: drains.drain, onError: () => {} });
    dispatcher.wake("a");
    let stopped = false;
    const stopping = dispatcher.stop(60_000).then(() => {
      stopped = true;
    });
    dispatcher.wake("b");
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    await drains.finish("a");
    await stopping;
    expect(drains.runs).toEqual(["a"]);

    const hung = createKeyedDispatcher({
      concurrency: 1,
      drain: () => new Promise(() => {}),
      onError: () => {},
    });
    hung.wake("x");
    await hung.stop(20);
    expect(hung.running).toBe(1);
  });
});

describe("retry delays of GitHub deliveries", () => {
  const policy = { delaySeconds: 5, backoff: true, limit: 10 };

  it("doubles from the first delay, up to five minutes, up to a fifth less for jitter", () => {
    expect([1, 2, 3, 4, 7, 20].map((n) => retryDelayMs(policy, n, () => 0))).toEqual([
      5_000, 10_000, 20_000, 40_000, 300_000, 300_000,
    ]);
    expect(retryDelayMs(policy, 2, () => 0.999)).toBeGreaterThan(8_000);
    expect(retryDelayMs(policy, 2, () => 0.999)).toBeLessThan(10_000);
  });

  it("waits the same each time without backoff", () => {
    expect(retryDelayMs({ ...policy, backoff: false }, 9)).toBe(5_000);
  });
});
