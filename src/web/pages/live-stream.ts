import type { Context } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import type { Principal } from "../../http/require-api-token.ts";

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

/** Live streams one session may hold open at once (a few tabs' worth). */
export const MAX_STREAMS_PER_SESSION = 8;
/**
 * Live streams one principal (the operator, a project token, a GitHub login) may hold open at once,
 * all its sessions together: signing in again opens a session, not more room.
 */
export const MAX_STREAMS_PER_PRINCIPAL = 2 * MAX_STREAMS_PER_SESSION;
/** Live streams this process holds open at once, every session together. */
export const MAX_STREAMS = 200;

/** Open live streams: in all, per session id, and per principal (`principalKey`). */
const open = { total: 0, perSession: new Map<string, number>(), perPrincipal: new Map<string, number>() };

/** Who holds a stream, whatever session it came through: the operator, a project token, a GitHub login. */
function principalOf(principal: Principal | undefined): { key: string; name: string } {
  if (principal?.kind === "project") return { key: `token:${principal.tokenId}`, name: "this project token" };
  if (principal?.kind === "user")
    return { key: `user:${principal.login.toLowerCase()}`, name: principal.login };
  return { key: principal?.kind ?? "anonymous", name: "the operator" };
}

const countIn = (counts: Map<string, number>, key: string, by: number) => {
  const value = (counts.get(key) ?? 0) + by;
  if (value > 0) counts.set(key, value);
  else counts.delete(key);
};

/** Open live streams of a session (tests read it to see that ended streams are counted out). */
export const openStreams = (sessionId?: string) =>
  sessionId === undefined ? open.total : (open.perSession.get(sessionId) ?? 0);

/**
 * 429 when the session, its principal or the process holds too many live streams. The browser's EventSource
 * stops on an answer other than 200 (it does not retry): the page works, without live updates.
 */
function tooManyStreams(c: Context, why: string) {
  c.header("cache-control", "no-store");
  return c.text(`Too many live updates open ${why}: close other envhooks tabs, then reload the page.`, 429);
}

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
  const sessionId = c.get("session")?.id ?? "";
  const principal = principalOf(c.get("principal"));
  if ((open.perSession.get(sessionId) ?? 0) >= MAX_STREAMS_PER_SESSION) {
    return tooManyStreams(c, `for this session (at most ${MAX_STREAMS_PER_SESSION})`);
  }
  if ((open.perPrincipal.get(principal.key) ?? 0) >= MAX_STREAMS_PER_PRINCIPAL) {
    return tooManyStreams(
      c,
      `for ${principal.name} across all sessions (at most ${MAX_STREAMS_PER_PRINCIPAL})`,
    );
  }
  if (open.total >= MAX_STREAMS) return tooManyStreams(c, `on this envhooks (at most ${MAX_STREAMS})`);
  open.total++;
  countIn(open.perSession, sessionId, 1);
  countIn(open.perPrincipal, principal.key, 1);
  let counted = true;
  const release = () => {
    if (!counted) return;
    counted = false;
    open.total--;
    countIn(open.perSession, sessionId, -1);
    countIn(open.perPrincipal, principal.key, -1);
  };
  return streamSSE(c, async (stream) => {
    stream.onAbort(release);
    try {
      await pollUntilDone(stream, poll, intervalMs);
    } finally {
      release();
    }
  });
}

async function pollUntilDone(
  stream: SSEStreamingApi,
  poll: () => Promise<{ patches: Patch[]; done?: boolean }>,
  intervalMs: number,
) {
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
