/**
 * Group commit: items handed in while a commit is under way are committed together by the next
 * one, so that a burst costs a few commits rather than one each. There is no fixed wait: the first
 * item of a quiet moment is committed alone at once, and a batch is whatever queued meanwhile
 * (at most `maxItems`, and at most `maxBytes` unless a single item is larger). With `concurrency`
 * above 1 (a store with several connections), that many commits run at once before items queue.
 *
 * No package fitted: dataloader batches per event-loop tick (a fixed window), p-batch-like helpers
 * wait for a timer; neither commits what queued during the previous commit.
 */
export interface GroupCommitOptions<Item, Result> {
  /** Commits several items in one transaction; one result per item, in order. */
  commitMany(items: readonly Item[]): Promise<Result[]>;
  /**
   * Commits one item alone: a batch of one, and each item of a batch whose commit failed, so that
   * one item the store refuses fails only its own caller.
   */
  commitOne(item: Item): Promise<Result>;
  maxItems: number;
  maxBytes?: number | undefined;
  /** Commits under way at once (1 by default: a batch is what queued during the one commit). */
  concurrency?: number | undefined;
  /** An item's weight against `maxBytes`. */
  sizeOf?: ((item: Item) => number) | undefined;
  /**
   * Whether a failed batch is worth committing again one item at a time (by default, always). A
   * store that is down fails every item alike: retrying them one by one only makes each caller
   * wait for every connection timeout of the items before it.
   */
  splitAfter?: ((error: unknown) => boolean) | undefined;
}

interface Waiting<Item, Result> {
  item: Item;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

/** Returns the function that commits an item (resolving once it is committed) in a group. */
export function groupCommit<Item, Result>(
  options: GroupCommitOptions<Item, Result>,
): (item: Item) => Promise<Result> {
  const {
    commitMany,
    commitOne,
    maxItems,
    maxBytes = Number.POSITIVE_INFINITY,
    sizeOf = () => 0,
    concurrency = 1,
    splitAfter = () => true,
  } = options;
  const queue: Array<Waiting<Item, Result>> = [];
  let committing = 0;

  function nextBatch(): Array<Waiting<Item, Result>> {
    let bytes = 0;
    let count = 0;
    for (const waiting of queue) {
      const size = sizeOf(waiting.item);
      if (count > 0 && (count === maxItems || bytes + size > maxBytes)) break;
      bytes += size;
      count += 1;
    }
    return queue.splice(0, count);
  }

  async function commitBatch(batch: Array<Waiting<Item, Result>>): Promise<void> {
    if (batch.length > 1) {
      let results: Result[] | undefined;
      try {
        results = await commitMany(batch.map((waiting) => waiting.item));
      } catch (error) {
        // Which item the store refused is for the one-at-a-time commits to find; a store that is
        // down fails the whole batch at once.
        if (!splitAfter(error)) {
          for (const waiting of batch) waiting.reject(error);
          return;
        }
      }
      if (results) {
        for (const [n, waiting] of batch.entries()) waiting.resolve(results[n] as Result);
        return;
      }
    }
    for (const waiting of batch) {
      await commitOne(waiting.item).then(waiting.resolve, waiting.reject);
    }
  }

  async function run(): Promise<void> {
    committing += 1;
    try {
      while (queue.length > 0) await commitBatch(nextBatch());
    } finally {
      committing -= 1;
    }
  }

  return (item) =>
    new Promise<Result>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (committing < concurrency) void run();
    });
}
