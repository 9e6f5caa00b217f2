import { HttpError } from "../http/http-error.ts";
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
 * Stores a delivery in the inbox and resolves only once it is committed, so what GitHub was told
 * we accepted survives any crash after that; then wakes its project. A wake-up lost with the
 * process is made good by the sweep at the next start.
 */
export function acceptDelivery(db: Database, wake: (projectKey: string) => void) {
  return async function accept(delivery: Delivery): Promise<"accepted" | "duplicate"> {
    let stored: { id: number } | undefined;
    try {
      stored = await insertEvent(db.urgent, delivery);
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
