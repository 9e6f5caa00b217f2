import type { PgBoss } from "pg-boss";
import { enqueueKey } from "../queue/keyed-queue.ts";
import { DELIVERIES_QUEUE } from "../queue/queues.ts";
import { LEASE_SECONDS, withLease } from "../queue/with-lease.ts";
import type { SendableDelivery } from "../store/deliveries.ts";
import { readSendable, releaseIntegrationLease, takeIntegrationLease } from "../store/integrations.ts";
import { INTEGRATION_LEASE } from "../store/leases.ts";
import type { SecretBox } from "../store/secret-box.ts";
import { type AttemptDeps, attemptDelivery } from "./attempt-delivery.ts";
import { deliveryOrder, type Integration } from "./integration.ts";
import type { TakeLease } from "./lease-taker.ts";
import { deliveryAlerts } from "./raise-alert.ts";

export interface DrainIntegrationDeps extends AttemptDeps {
  boss: PgBoss;
  /** Decrypts the integration's secrets, once per read. */
  secrets: SecretBox;
  /** This process, as a lease holder. */
  owner: string;
  /** Drains the integration again in this process once the drain in flight has finished. */
  again(integrationId: string): void;
  /** Aborted when the process is shutting down: the drain stops after the attempts in flight. */
  signal?: AbortSignal;
  /** Tells a drain under way that its integration has new deliveries (else it looks now and then). */
  nudges?: DrainNudges;
  /** How the lease is taken (the relay takes its drains' leases together); by default alone. */
  takeLease?: TakeLease;
}

/**
 * Deliveries written in this process reach the drain under way at once, not at its next look.
 * `expect` names a lane a transaction is writing deliveries to (before it commits); the `nudge`
 * after its commit then tells the drain which lanes got new deliveries: one whose lanes are all in
 * flight or read ahead need not read now, only once those lanes run dry.
 */
export interface DrainNudges {
  expect(integrationId: string, lane: string): void;
  nudge(integrationId: string): void;
  listen(integrationId: string, listener: (lanes: ReadonlySet<string> | undefined) => void): () => void;
}

export function createDrainNudges(): DrainNudges {
  const listeners = new Map<string, (lanes: ReadonlySet<string> | undefined) => void>();
  // Lanes written since the integration's last nudge (one follows every commit that wrote some; a
  // rolled-back transaction's lanes wait for the next, which then reads once more than needed).
  const expected = new Map<string, Set<string>>();
  return {
    expect(integrationId, lane) {
      const lanes = expected.get(integrationId) ?? new Set();
      lanes.add(lane);
      expected.set(integrationId, lanes);
    },
    nudge(integrationId) {
      const lanes = expected.get(integrationId);
      expected.delete(integrationId);
      listeners.get(integrationId)?.(lanes);
    },
    listen(integrationId, listener) {
      listeners.set(integrationId, listener);
      return () => {
        if (listeners.get(integrationId) === listener) listeners.delete(integrationId);
      };
    },
  };
}

/**
 * Deliveries of one lane read ahead. The integration is read afresh with each read (paused, a new
 * URL, a new secret, another ordering): a change reaches at most the deliveries already read.
 */
export const PER_LANE = 16;

/**
 * With a send slot free, the holder looks for lanes written meanwhile this often, besides whenever a
 * lane runs dry or fails: a long lane never keeps a new environment waiting for the drain's end.
 * A backstop: deliveries written in this process nudge the drain with their lanes, and wake-ups
 * that come through the queue (another instance's writes, retries) nudge it too.
 */
const REREAD_MS = 1_000;
/** Reads that find nothing new space the next ones out, up to this: a hanging receiver costs little. */
const MAX_REREAD_MS = 5_000;

/**
 * Sends an integration's pending deliveries while it holds the integration's lease (in whichever
 * instance), in lanes: deliveries of one lane leave in turn, oldest first; different lanes' go in
 * parallel, up to the integration's `concurrency`. Its `ordering` says what a lane is: an
 * environment (`environment`), the whole integration (`integration`, one at a time) or a single
 * delivery (`none`). A delivery waiting for its retry holds back only its lane: a job wakes the
 * integration when the retry is due.
 */
export async function drainIntegration(
  drainDeps: DrainIntegrationDeps,
  integrationId: string,
): Promise<number> {
  // Failure alerts are recorded in this store and woken through its deliveries queue.
  const deps = {
    ...drainDeps,
    alerts: drainDeps.alerts ?? deliveryAlerts(drainDeps.db, drainDeps.boss, drainDeps.metrics),
  };
  let integration: Integration | undefined;
  // What may go, read ahead, by lane, oldest first; the first read comes with the lease.
  const lanes = new Map<string, SendableDelivery[]>();
  // Lanes busy: a send under way, or its attempt being recorded (the lane's next waits for both).
  const inFlight = new Map<string, Promise<void>>();
  // Requests the receiver has not answered yet: what `concurrency` counts.
  let sending = 0;
  let sent = 0;
  let released = false;
  let dueAfterRelease = false;

  // Requests in flight at once, at most: one with `integration` ordering. Also the lanes a read asks for.
  const limit = () => {
    const order = integration && deliveryOrder(integration);
    return order?.ordering === "integration" ? 1 : (order?.concurrency ?? 1);
  };
  // Whether the last read may have left due deliveries behind: lanes read to PER_LANE (more may
  // follow in them), and whether it found as many lanes as it asked for (more lanes may wait).
  // Otherwise it saw all that was due, and a lane running dry is no reason to read again: what is
  // written afterwards nudges the drain (this process), wakes it after its release or comes with
  // the periodic look (another instance). At one delivery per lane, that read found nothing.
  const full = new Set<string>();
  let moreLanes = true;
  const fill = (deliveries: SendableDelivery[], lanesAsked: number) => {
    const fresh = new Map<string, SendableDelivery[]>();
    for (const delivery of deliveries) {
      const lane = fresh.get(delivery.lane) ?? [];
      lane.push(delivery);
      fresh.set(delivery.lane, lane);
    }
    // A lane read again replaces what was read ahead of it (lanes in flight are never read).
    for (const [lane, queue] of fresh) {
      lanes.set(lane, queue);
      if (queue.length >= PER_LANE) full.add(lane);
      else full.delete(lane);
    }
    // `integration` ordering reads its one lane only.
    moreLanes =
      integration === undefined ||
      (deliveryOrder(integration).ordering !== "integration" && fresh.size >= lanesAsked);
  };

  await withLease(
    deps.db,
    INTEGRATION_LEASE,
    integrationId,
    deps.owner,
    async (lease) => {
      const stopped = () => !lease.held || Boolean(deps.signal?.aborted);
      // Reasons to read again before REREAD_MS: a lane ran dry, or its head failed.
      let dirty = false;
      let readAt = Date.now();
      // Reads in a row that found nothing to send: the next waits longer (REREAD_MS doubled each time).
      let idleReads = 0;
      const rereadMs = () => Math.min(MAX_REREAD_MS, REREAD_MS * 2 ** idleReads);
      // What a lane is (an environment, the integration, a delivery) for the lanes read so far. When
      // the integration's `ordering` changes, the lanes in flight mean something else than the new
      // read's: nothing starts or is read until they have ended (regrouping), then all is read anew.
      let laneOrdering = integration && deliveryOrder(integration).ordering;
      let regrouping = false;
      // Paused, disabled, gone, or envhooks itself failed: nothing new starts.
      let halted = false;
      // The last send known is giving the lease up with its record: nothing new starts meanwhile.
      let releasing = false;
      let failure: { error: unknown } | undefined;

      // Wakes the loop: a receiver answered (its slot is free while the attempt is recorded), or
      // new deliveries were written.
      let answered = () => {};
      const unlisten = deps.nudges?.listen(integrationId, (written) => {
        // New deliveries only behind lanes in flight or read ahead: those lanes are read again
        // once they run dry, and the periodic look keeps its pace. Otherwise (a new lane, or
        // lanes not named) read now.
        if (
          written &&
          written.size > 0 &&
          [...written].every((lane) => inFlight.has(lane) || lanes.has(lane))
        ) {
          for (const lane of written) full.add(lane);
          return;
        }
        // The read leaves out lanes in flight: those written to (all, when unnamed) are read again
        // once they run dry.
        for (const lane of inFlight.keys()) if (!written || written.has(lane)) full.add(lane);
        dirty = true;
        idleReads = 0;
        answered();
      });
      const send = (lane: string, delivery: SendableDelivery, current: Integration) => {
        sending++;
        let counted = true;
        const uncount = () => {
          if (!counted) return;
          counted = false;
          sending--;
          answered();
        };
        return (async () => {
          const outcome = await attemptDelivery(deps, current, delivery, {
            // The last delivery known gives the lease up with its record, which says whether
            // something was written meanwhile (the drain then runs again).
            releaseLeaseOf: () => {
              if (inFlight.size !== 1 || lanes.size > 0 || full.has(lane) || halted || regrouping) {
                return undefined;
              }
              releasing = true;
              return deps.owner;
            },
            onAnswered: uncount,
          });
          sent++;
          releasing = false;
          if (outcome.released) {
            released = true;
            dueAfterRelease = outcome.dueAfterRelease;
          }
          if (outcome.retryAt) await retryLater(deps, integrationId, outcome.retryAt);
          if (outcome.disabled) halted = true;
          // A delivery to retry holds back the rest of its lane, read again once it is due.
          if (!outcome.ok) {
            lanes.delete(lane);
            dirty = true;
          }
          // A lane that ran dry: read again only if the last read may have left some behind.
          if (!lanes.has(lane)) {
            if (full.has(lane) || moreLanes) dirty = true;
            full.delete(lane);
          }
        })()
          .catch((error: unknown) => {
            failure ??= { error };
            halted = true;
          })
          .finally(() => {
            uncount();
            inFlight.delete(lane);
          });
      };

      const startDue = async () => {
        for (const [lane, queue] of lanes) {
          if (sending >= limit()) return;
          if (inFlight.has(lane)) continue;
          const head = queue[0];
          if (head && head.nextAttemptAt.getTime() > Date.now()) {
            // Waiting for its retry (its job may have been lost with another process).
            lanes.delete(lane);
            await retryLater(deps, integrationId, head.nextAttemptAt);
            continue;
          }
          queue.shift();
          if (queue.length === 0) lanes.delete(lane);
          if (head && integration) inFlight.set(lane, send(lane, head, integration));
        }
      };
      const going = () =>
        !released && !releasing && !halted && !regrouping && !stopped() && integration?.status === "active";

      try {
        for (;;) {
          if (regrouping && inFlight.size === 0) {
            regrouping = false;
            dirty = true;
          }
          if (going()) await startDue();
          // A slot free and nothing read ahead to fill it: look for more when a lane ran dry or
          // failed, or now and then for lanes written meanwhile.
          const free = going() && sending < limit() && ![...lanes.keys()].some((lane) => !inFlight.has(lane));
          if (free && (dirty || Date.now() - readAt >= rereadMs())) {
            // The lanes in flight as the read is sent: a send may end while it is under way.
            const busy = [...inFlight.keys()];
            const lanesAsked = limit();
            const read = await readSendable(deps.db, deps.secrets, integrationId, {
              busy,
              lanes: lanesAsked,
              perLane: PER_LANE,
            });
            readAt = Date.now();
            dirty = false;
            integration = read?.integration;
            const ordering = integration && deliveryOrder(integration).ordering;
            if (ordering && ordering !== laneOrdering) {
              // The read's lanes exclude the old lanes that were in flight when it was sent, not
              // the deliveries they hold; those whose send has ended since may be recorded after
              // the read's snapshot, so they count too (their delivery would go twice).
              laneOrdering = ordering;
              lanes.clear();
              if (busy.length > 0) {
                regrouping = true;
                continue;
              }
            }
            fill(read?.deliveries ?? [], lanesAsked);
            idleReads = read?.deliveries.length ? 0 : idleReads + 1;
            if (lanes.size > 0) continue;
          }
          if (inFlight.size === 0) break;
          // Until a receiver answers or a send ends, or (with a slot free) it is time to look for
          // new lanes.
          const answer = new Promise<void>((resolve) => {
            answered = resolve;
          });
          let timer: NodeJS.Timeout | undefined;
          const wait = free
            ? new Promise<void>((resolve) => {
                timer = setTimeout(resolve, Math.max(0, rereadMs() - (Date.now() - readAt)));
              })
            : undefined;
          await Promise.race([...inFlight.values(), answer, ...(wait ? [wait] : [])]);
          clearTimeout(timer);
        }
      } finally {
        unlisten?.();
        // Stopping, or failing: attempts under way (cut short by a shutdown) are recorded
        // before the lease is given up; the rest waits for the next drain.
        await Promise.all(inFlight.values());
      }
      if (failure) throw failure.error;
    },
    {
      take: async () => {
        const taken = deps.takeLease
          ? await deps.takeLease(integrationId)
          : await takeIntegrationLease(
              deps.db,
              deps.secrets,
              integrationId,
              deps.owner,
              LEASE_SECONDS,
              PER_LANE,
            );
        integration = taken?.integration;
        fill(taken?.deliveries ?? [], limit());
        return taken !== undefined;
      },
      release: async () => {
        if (!released) dueAfterRelease = await releaseIntegrationLease(deps.db, integrationId, deps.owner);
      },
    },
  );
  // Written (in another instance) while the lease turned its wake-up away, or left by a stop.
  if (dueAfterRelease && !deps.signal?.aborted) deps.again(integrationId);
  return sent;
}

/** A job wakes the integration when a delivery waiting for its retry is due. */
async function retryLater(deps: DrainIntegrationDeps, integrationId: string, due: Date): Promise<void> {
  await enqueueKey(deps.boss, DELIVERIES_QUEUE, integrationId, { startAfter: due });
}
