import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { DELIVERIES_QUEUE } from "../../src/queue/queues.ts";
import { openPglite } from "../../src/store/open-pglite.ts";
import { Receiver } from "../helpers/receiver.ts";
import { ServerProcess } from "../helpers/server-process.ts";
import { account, burst, receivedEach, SECRET, signedPushes, subscribe, TOKEN } from "./chaos-kit.ts";

const servers: ServerProcess[] = [];
const receivers: Receiver[] = [];
let folder: string | undefined;
afterEach(async () => {
  for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill("SIGKILL");
  for (const receiver of receivers.splice(0)) await receiver.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

it("kill -9 during a burst of 1,000 events fanned out to 3 integrations: every acknowledged event arrives", async () => {
  folder = mkdtempSync(join(tmpdir(), "envhooks-chaos-"));
  const env = {
    WEBHOOK_SECRET: SECRET,
    ENVHOOKS_API_TOKEN: TOKEN,
    ENVHOOKS_DATA_DIR: join(folder, "data"),
    ENVHOOKS_ALLOW_PRIVATE_URLS: "true",
  };
  const start = () => {
    const server = new ServerProcess(env);
    servers.push(server);
    return server;
  };
  for (let n = 0; n < 3; n++) receivers.push(await new Receiver().start());
  const repos = Array.from({ length: 20 }, (_, n) => `chaos/repo-${n}`);
  const deliveries = await signedPushes(repos, 1000, "kill");

  const first = start();
  const url = await first.ready();
  await subscribe(url, repos, receivers);
  // Killed once 400 events are acknowledged, with requests and deliveries in flight.
  let acknowledged = 0;
  let killed: Promise<unknown> | undefined;
  const before = await burst(deliveries, () => url, {
    onAnswer(status) {
      if (status === 202 && ++acknowledged === 400) killed = first.kill("SIGKILL");
    },
  });
  expect(await killed).toBe("SIGKILL");
  const unanswered = deliveries.filter((delivery) => before.get(delivery.id) !== 202);
  expect(unanswered.length).toBeGreaterThan(0);

  // Sends in flight at the kill: what reached a receiver from the killed process (all it got before
  // the restart, some read after the kill from a socket's buffer) but was not recorded as delivered
  // in the store it left. Those, and only those, may be sent again: at least once can do no better.
  const left = await openPglite({ dataDir: env.ENVHOOKS_DATA_DIR });
  const recorded = new Set(
    (await left.query<{ id: string }>("SELECT id FROM deliveries WHERE state <> 'pending'")).rows.map(
      (row) => row.id,
    ),
  );
  await left.close();
  // Taken once the store was read: a request still in a socket's buffer has been read by now.
  const sentBefore = new Set(
    receivers.flatMap((receiver) =>
      receiver.received.map((request) => String(request.headers["webhook-id"])),
    ),
  );
  const inFlight = [...sentBefore].filter((id) => !recorded.has(id)).length;

  // GitHub's redelivery of what got no answer: 202, or 200 for what was stored before the kill.
  const second = start();
  const again = await second.ready();
  const after = await burst(unanswered, () => again);
  const statuses = [...after.values()];
  expect(statuses.every((status) => status === 202 || status === 200)).toBe(true);

  const ids = deliveries.map((delivery) => delivery.id);
  await receivedEach(receivers, ids, 120_000);
  // A moment more, for copies sent again after the restart to show up if there are any.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const result = account(receivers, ids);
  console.log(
    `[chaos] kill -9: ${before.size - unanswered.length} acknowledged before the kill, ` +
      `${statuses.filter((s) => s === 200).length} of the resent were stored already; ` +
      `${result.received} of ${result.expected} deliveries received, ${result.duplicates} duplicates ` +
      `(${((100 * result.duplicates) / result.expected).toFixed(2)} %); ${inFlight} sends in flight at the kill ` +
      `(${sentBefore.size} received before the restart, ${recorded.size} recorded as done)`,
  );
  expect(result.missing).toEqual([]);
  expect(result.differentIds).toBe(0);
  // At least once: what was answered but not yet recorded when the process died is sent again,
  // with the same webhook-id. That is at most the attempts in flight: one per environment of each
  // integration (every push here is to its repository's default branch), for the integrations drained.
  const lanes = repos.length * receivers.length;
  expect(result.duplicates).toBeLessThanOrEqual(Math.min(lanes, DELIVERIES_QUEUE.concurrency));
  expect(result.duplicates).toBeLessThanOrEqual(inFlight);
  expect(await second.kill("SIGTERM")).toBe(0);
  // A busy machine takes most of a minute for each first start of the embedded database.
}, 300_000);
