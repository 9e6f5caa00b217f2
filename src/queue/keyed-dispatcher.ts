/**
 * Drains keys in this process: at most `concurrency` keys at once, one key never twice at once.
 * Wake-ups for a key that is waiting collapse into one; a wake-up for a key being drained makes it
 * drain once more when it finishes, so work written meanwhile is never left behind.
 *
 * The queue only says "work is waiting for this key"; the work itself is in envhooks' tables, so
 * a wake-up lost with the process is recovered by the sweep after a restart.
 *
 * A key whose drain failed rests `restMs` before it drains again, however often it is woken
 * meanwhile: a failure that repeats (a delivery whose attempt the store refuses) never turns into a
 * hot loop of drains.
 */
export interface KeyedDispatcher {
  wake(key: string): void;
  /** Keys being drained now. */
  readonly running: number;
  /** Stops taking keys and waits for the drains in flight, at most `timeoutMs`. */
  stop(timeoutMs: number): Promise<void>;
}

export function createKeyedDispatcher({
  concurrency,
  drain,
  onError,
  restMs = 0,
}: {
  concurrency: number;
  drain: (key: string) => Promise<unknown>;
  onError: (key: string, error: unknown) => void;
  /** How long a key whose drain failed waits before it drains again. */
  restMs?: number;
}): KeyedDispatcher {
  const running = new Map<string, Promise<void>>();
  // Insertion order is the order keys get a free slot.
  const waiting = new Set<string>();
  const again = new Set<string>();
  // Keys resting after a failed drain, with whether they were woken meanwhile.
  const resting = new Map<string, { timer: NodeJS.Timeout; woken: boolean }>();
  let stopped = false;

  function rest(key: string) {
    const woken = again.delete(key);
    const timer = setTimeout(() => {
      const entry = resting.get(key);
      resting.delete(key);
      if (entry?.woken && !stopped) {
        waiting.add(key);
        start();
      }
    }, restMs);
    timer.unref();
    resting.set(key, { timer, woken });
  }

  function start() {
    while (!stopped && running.size < concurrency) {
      const key = waiting.values().next().value;
      if (key === undefined) return;
      waiting.delete(key);
      const run = drain(key)
        .then(
          () => undefined,
          (error: unknown) => {
            onError(key, error);
            if (restMs > 0) rest(key);
          },
        )
        .finally(() => {
          running.delete(key);
          if (again.delete(key)) waiting.add(key);
          start();
        });
      running.set(key, run);
    }
  }

  return {
    wake(key) {
      if (stopped) return;
      const asleep = resting.get(key);
      if (asleep) asleep.woken = true;
      else if (running.has(key)) again.add(key);
      else waiting.add(key);
      start();
    },
    get running() {
      return running.size;
    },
    async stop(timeoutMs) {
      stopped = true;
      for (const { timer } of resting.values()) clearTimeout(timer);
      resting.clear();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([Promise.allSettled(running.values()), timeout]);
      clearTimeout(timer);
    },
  };
}
