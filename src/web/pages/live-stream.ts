import type { Context } from "hono";
import { streamSSE } from "hono/streaming";

/** One change to a page: the element with `id` is replaced, or the markup is put into `into`. */
export interface Patch {
  id: string;
  html: string;
  into?: string;
  where?: "prepend" | "append";
}

/** How often an open stream asks the store again: cheap indexed reads, and any instance sees any change. */
export const POLL_MS = 1000;
/** A stream ends after this long; the browser's EventSource opens it again. */
const MAX_STREAM_MS = 15 * 60_000;

/**
 * A server-sent event stream that asks `poll` every second for what changed and sends each change
 * as a `patch` event (live.js applies them). Polling the store, rather than listening inside this
 * process, keeps it right with several envhooks instances on one database. `poll` returns
 * `{ patches, done }`; with `done` a `done` event ends the stream.
 */
export function pollStream(
  c: Context,
  poll: () => Promise<{ patches: Patch[]; done?: boolean }>,
  intervalMs = POLL_MS,
) {
  return streamSSE(c, async (stream) => {
    const deadline = Date.now() + MAX_STREAM_MS;
    let aborted = false;
    stream.onAbort(() => {
      aborted = true;
    });
    while (!aborted && Date.now() < deadline) {
      let answer: { patches: Patch[]; done?: boolean };
      try {
        answer = await poll();
      } catch {
        // The store is unavailable (or envhooks is stopping): end this stream; the browser's
        // EventSource opens it again after its retry delay.
        return;
      }
      const { patches, done } = answer;
      for (const patch of patches) await stream.writeSSE({ event: "patch", data: JSON.stringify(patch) });
      if (done) {
        await stream.writeSSE({ event: "done", data: "" });
        return;
      }
      await stream.sleep(intervalMs);
    }
  });
}

/** Remembers what was sent, so only what changed is sent again. */
export class SentMarkup {
  readonly #sent = new Map<string, string>();

  /** The patch when `html` differs from what was last sent for `id`, else undefined. */
  changed(patch: Patch): Patch | undefined {
    if (this.#sent.get(patch.id) === patch.html) return undefined;
    this.#sent.set(patch.id, patch.html);
    return patch;
  }
}
