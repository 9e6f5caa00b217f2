/**
 * Drains keys in this process: at most `concurrency` keys at once, one key never twice at once.
 * Wake-ups for a key that is waiting collapse into one; a wake-up for a key being drained makes it
 * drain once more when it finishes, so work written meanwhile is never left behind.
 *
 * The queue only says "work is waiting for this key"; the work itself is in envhooks' tables, so
 * a wake-up lost with the process is recovered by the sweep after a restart.
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
}: {
  concurrency: number;
  drain: (key: string) => Promise<unknown>;
  onError: (key: string, error: unknown) => void;
}): KeyedDispatcher {
  const running = new Map<string, Promise<void>>();
  // Insertion order is the order keys get a free slot.
  const waiting = new Set<string>();
  const again = new Set<string>();
  let stopped = false;

  function start() {
    while (!stopped && running.size < concurrency) {
      const key = waiting.values().next().value;
      if (key === undefined) return;
      waiting.delete(key);
      const run = drain(key)
        .then(
          () => undefined,
          (error: unknown) => onError(key, error),
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
      if (running.has(key)) again.add(key);
      else waiting.add(key);
      start();
    },
    get running() {
      return running.size;
    },
    async stop(timeoutMs) {
      stopped = true;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([Promise.allSettled(running.values()), timeout]);
      clearTimeout(timer);
    },
  };
}
