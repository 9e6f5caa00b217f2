import type { Queryable } from "../store/database.ts";
import type { SendableDelivery } from "../store/deliveries.ts";
import { takeIntegrationLease, takeIntegrationLeases } from "../store/integrations.ts";
import type { SecretBox } from "../store/secret-box.ts";
import type { Integration } from "./integration.ts";

/** An integration's lease taken, with what it may send now; undefined when it was not taken. */
export type TakeLease = (
  integrationId: string,
) => Promise<{ integration: Integration; deliveries: SendableDelivery[] } | undefined>;

/**
 * Takes the leases this process's drains ask for together: those asked for in one turn (the
 * integrations a commit woke: an activity's fan-out) go in one statement, and those asked for
 * while it is under way in the next one (at most `max` each). The drains then go on alone. When a
 * shared statement fails, each of its leases is taken by itself, so that one integration that
 * cannot be taken (its config, its secrets) fails only its own drain, tried again later.
 */
export function takeLeasesTogether(
  db: Queryable,
  secrets: SecretBox,
  { owner, seconds, perLane, max = 64 }: { owner: string; seconds: number; perLane: number; max?: number },
): TakeLease {
  interface Waiting {
    id: string;
    resolve(taken: Awaited<ReturnType<TakeLease>>): void;
    reject(error: unknown): void;
  }
  let waiting: Waiting[] = [];
  let flushing = false;

  async function flush() {
    while (waiting.length > 0) {
      const batch = waiting.slice(0, max);
      waiting = waiting.slice(max);
      const ids = batch.map((entry) => entry.id);
      try {
        const taken = await takeIntegrationLeases(db, secrets, ids, owner, seconds, perLane);
        // One lease, one drain: were an integration asked for twice, only the first would have it.
        const given = new Set<string>();
        for (const entry of batch) {
          const one = given.has(entry.id) ? undefined : taken.get(entry.id);
          given.add(entry.id);
          if (one instanceof Error) entry.reject(one);
          else entry.resolve(one);
        }
      } catch (error) {
        if (batch.length === 1) batch[0]?.reject(error);
        else
          await Promise.all(
            batch.map((entry) =>
              takeIntegrationLease(db, secrets, entry.id, owner, seconds, perLane).then(
                entry.resolve,
                entry.reject,
              ),
            ),
          );
      }
    }
    flushing = false;
  }

  return (id) =>
    new Promise((resolve, reject) => {
      waiting.push({ id, resolve, reject });
      if (flushing) return;
      flushing = true;
      // After the turn that asked: the other drains its commit woke ask in the same turn.
      queueMicrotask(() => void flush());
    });
}
