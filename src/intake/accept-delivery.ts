import { HttpError } from "../http/http-error.ts";
import { groupCommit } from "../queue/group-commit.ts";
import type { Database } from "../store/database.ts";
import { insertEvent, insertEvents } from "../store/github-events.ts";

/** A verified GitHub delivery, as the inbox keeps it. */
export interface Delivery {
  deliveryId: string;
  name: string;
  action: string | null;
  projectKey: string;
  /** The raw body, exactly as GitHub signed it. */
  payload: string;
  /** GitHub's request headers, for the delivery's page (`keptHeaders`). */
  headers?: Record<string, string> | undefined;
}

/**
 * The request headers a GitHub delivery's page shows, as GitHub's Recent Deliveries does: GitHub's
 * own, in its spelling. Anything else (a proxy's, a cookie) is not kept.
 */
const KEPT_HEADERS = [
  "Content-Type",
  "User-Agent",
  "X-GitHub-Delivery",
  "X-GitHub-Event",
  "X-GitHub-Hook-ID",
  "X-GitHub-Hook-Installation-Target-ID",
  "X-GitHub-Hook-Installation-Target-Type",
  "X-Hub-Signature",
  "X-Hub-Signature-256",
] as const;

/** The kept headers a request carries (`header` reads one by name, in any case). */
export function keptHeaders(header: (name: string) => string | undefined): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = header(name);
    if (value !== undefined) kept[name] = value.slice(0, 500);
  }
  return kept;
}

/** At most this many deliveries share one insert and commit. */
export const MAX_DELIVERIES_PER_COMMIT = 100;
/** At most this many characters of bodies share one insert (a larger delivery is stored alone). */
export const MAX_CHARS_PER_COMMIT = 4 * 1024 * 1024;

/** Inserts under way at once on PostgreSQL: more wait behind one another's locks and the disk. */
const COMMITS_AT_ONCE_ON_POSTGRES = 4;

/**
 * Stores a delivery in the inbox and resolves only once it is committed, so what GitHub was told
 * we accepted survives any crash after that; then wakes its project. A wake-up lost with the
 * process is made good by the sweep at the next start.
 *
 * Deliveries that arrive while an insert is being committed are stored together by the next one:
 * one statement and one commit for the lot (`groupCommit`), each answered once it is committed.
 * A delivery sent twice in one batch is stored once and answered as a duplicate the second time.
 */
export function acceptDelivery(db: Database, wake: (projectKey: string) => void) {
  const store = groupCommit<Delivery, boolean>({
    async commitMany(deliveries) {
      // The first of each delivery id is stored; the others are its duplicates.
      const first = new Map<string, number>();
      const distinct: Delivery[] = [];
      for (const delivery of deliveries) {
        if (first.has(delivery.deliveryId)) continue;
        first.set(delivery.deliveryId, distinct.length);
        distinct.push(delivery);
      }
      const stored = await insertEvents(db.urgent, distinct);
      return deliveries.map((delivery) => {
        const at = first.get(delivery.deliveryId) as number;
        return distinct[at] === delivery && stored[at] !== undefined;
      });
    },
    async commitOne(delivery) {
      return (await insertEvent(db.urgent, delivery)) !== undefined;
    },
    maxItems: MAX_DELIVERIES_PER_COMMIT,
    // PostgreSQL commits several at once (a pool); the embedded database one at a time.
    concurrency: db.kind === "postgres" ? COMMITS_AT_ONCE_ON_POSTGRES : 1,
    maxBytes: MAX_CHARS_PER_COMMIT,
    sizeOf: (delivery) => delivery.payload.length,
    splitAfter: (error) => !storeUnreachable(error),
  });
  return async function accept(delivery: Delivery): Promise<"accepted" | "duplicate"> {
    let stored: boolean;
    try {
      stored = await store(delivery);
    } catch (error) {
      // GitHub redelivers on request; a 503 tells it (and the operator) nothing was kept.
      throw new HttpError(
        503,
        "store_unavailable",
        "The event could not be stored; nothing was kept. Retry later.",
        null,
        {
          cause: error,
        },
      );
    }
    if (!stored) return "duplicate";
    wake(delivery.projectKey);
    return "accepted";
  };
}

/**
 * Whether an error says the store could not be reached at all (PostgreSQL down, restarting, or
 * its pool out of connections), rather than refusing a row: SQLSTATE classes 08 (connection) and
 * 57P (operator intervention: shutdown), or the driver's own connection errors.
 */
export function storeUnreachable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === "string" && (/^08/.test(code) || /^57P/.test(code))) return true;
  if (typeof code === "string" && ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT"].includes(code))
    return true;
  return (
    typeof message === "string" &&
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(
      message,
    )
  );
}
