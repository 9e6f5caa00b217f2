import { describe, expect, it } from "vitest";
import { storeUnreachable } from "../../src/intake/accept-delivery.ts";
import { groupCommit } from "../../src/queue/group-commit.ts";

/** A store whose commits finish when the test says, recording what each one held. */
function heldStore({ refuse = new Set<number>() } = {}) {
  const commits: Array<{ items: number[]; together: boolean }> = [];
  const pending: Array<() => void> = [];
  const commit = (items: number[], together: boolean) =>
    new Promise<void>((resolve, reject) => {
      commits.push({ items, together });
      pending.push(() => {
        const refused = items.find((item) => refuse.has(item));
        if (refused === undefined) resolve();
        else reject(new Error(`item ${refused} refused`));
      });
    });
  return {
    commits,
    /** Finishes the oldest commit still running. */
    finishOne: () => pending.shift()?.(),
    async commitMany(items: readonly number[]) {
      await commit([...items], true);
      return items.map((item) => item * 10);
    },
    async commitOne(item: number) {
      await commit([item], false);
      return item * 10;
    },
  };
}

/** Lets every promise callback that can run, run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("groupCommit", () => {
  it("commits the first item alone and those that came meanwhile together, each answered with its own result", async () => {
    const store = heldStore();
    const submit = groupCommit({ ...store, maxItems: 100 });
    const answers = [1, 2, 3, 4].map(submit);
    await settle();
    expect(store.commits).toEqual([{ items: [1], together: false }]);
    store.finishOne();
    await settle();
    const fifth = submit(5);
    store.finishOne();
    await settle();
    store.finishOne();
    expect(await Promise.all([...answers, fifth])).toEqual([10, 20, 30, 40, 50]);
    expect(store.commits).toEqual([
      { items: [1], together: false },
      { items: [2, 3, 4], together: true },
      { items: [5], together: false },
    ]);
  });

  it("bounds a batch by items and by size, a larger item going alone", async () => {
    const store = heldStore();
    const submit = groupCommit({ ...store, maxItems: 2, maxBytes: 10, sizeOf: (item: number) => item });
    const answers = [1, 2, 3, 4, 12, 5].map(submit);
    for (let n = 0; n < 6; n += 1) {
      await settle();
      store.finishOne();
    }
    expect(await Promise.all(answers)).toEqual([10, 20, 30, 40, 120, 50]);
    expect(store.commits.map((commit) => commit.items)).toEqual([[1], [2, 3], [4], [12], [5]]);
  });

  it("commits each item of a refused batch alone: only the one the store refuses fails", async () => {
    const store = heldStore({ refuse: new Set([3]) });
    const submit = groupCommit({ ...store, maxItems: 100 });
    const answers = [1, 2, 3, 4].map((item) => submit(item).catch((error: Error) => error.message));
    for (let n = 0; n < 6; n += 1) {
      await settle();
      store.finishOne();
    }
    expect(await Promise.all(answers)).toEqual([10, 20, "item 3 refused", 40]);
    expect(store.commits).toEqual([
      { items: [1], together: false },
      { items: [2, 3, 4], together: true },
      { items: [2], together: false },
      { items: [3], together: false },
      { items: [4], together: false },
    ]);
  });

  it("fails a whole batch at once when the store is down, without committing its items one by one", async () => {
    const store = heldStore({ refuse: new Set([1, 2, 3, 4]) });
    const submit = groupCommit({
      ...store,
      maxItems: 100,
      splitAfter: (error) => !(error as Error).message.includes("refused"),
    });
    const answers = [1, 2, 3, 4].map((item) => submit(item).catch((error: Error) => error.message));
    for (let n = 0; n < 3; n += 1) {
      await settle();
      store.finishOne();
    }
    expect(await Promise.all(answers)).toEqual([
      "item 1 refused",
      "item 2 refused",
      "item 2 refused",
      "item 2 refused",
    ]);
    expect(store.commits).toEqual([
      { items: [1], together: false },
      { items: [2, 3, 4], together: true },
    ]);
  });

  it("with concurrency 2, commits two batches at once and queues the rest for the first to finish", async () => {
    const store = heldStore();
    const submit = groupCommit({ ...store, maxItems: 100, concurrency: 2 });
    const answers = [1, 2, 3, 4, 5].map(submit);
    await settle();
    expect(store.commits.map((commit) => commit.items)).toEqual([[1], [2]]);
    store.finishOne();
    await settle();
    expect(store.commits.map((commit) => commit.items)).toEqual([[1], [2], [3, 4, 5]]);
    store.finishOne();
    store.finishOne();
    expect(await Promise.all(answers)).toEqual([10, 20, 30, 40, 50]);
  });
});

describe("storeUnreachable", () => {
  it("tells a store that cannot be reached from one that refuses a row", () => {
    expect(storeUnreachable(Object.assign(new Error("terminating connection"), { code: "57P01" }))).toBe(
      true,
    );
    expect(storeUnreachable(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(
      true,
    );
    expect(storeUnreachable(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(storeUnreachable(Object.assign(new Error("violates check constraint"), { code: "23514" }))).toBe(
      false,
    );
    expect(storeUnreachable(Object.assign(new Error("invalid input"), { code: "22P02" }))).toBe(false);
    expect(storeUnreachable(undefined)).toBe(false);
  });
});
