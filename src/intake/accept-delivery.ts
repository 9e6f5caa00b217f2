import type { PgBoss } from "pg-boss";
import { HttpError } from "../http/http-error.ts";
import { enqueueKey, type KeyedQueue } from "../queue/keyed-queue.ts";
import type { Database } from "../store/database.ts";
import { insertEvent } from "../store/github-events.ts";

/** A verified GitHub delivery, as the inbox keeps it. */
export interface Delivery {
  deliveryId: string;
  name: string;
  action: string | null;
  projectKey: string;
  /** The raw body, exactly as GitHub signed it. */
  payload: string;
}

/**
 * Stores a delivery and the job that will apply it in one transaction. Resolves only once both are
 * committed, so what GitHub was told we accepted survives any crash after that.
 */
export function acceptDelivery(db: Database, boss: PgBoss, queue: KeyedQueue) {
  return async function accept(delivery: Delivery): Promise<"accepted" | "duplicate"> {
    try {
      return await db.transaction(async (tx) => {
        const stored = await insertEvent(tx, delivery);
        if (!stored) return "duplicate";
        await enqueueKey(boss, queue, delivery.projectKey, { tx });
        return "accepted";
      });
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
  };
}
