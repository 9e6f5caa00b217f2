import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Receiver } from "../helpers/receiver.ts";
import { ServerProcess } from "../helpers/server-process.ts";
import {
  api,
  byGithubDelivery,
  type GithubDelivery,
  percentile,
  post,
  receivedEach,
  SECRET,
  signedPushes,
  subscribe,
  TOKEN,
} from "./chaos-kit.ts";

let folder: string;
let server: ServerProcess;
let url: string;
const receivers: Receiver[] = [];

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), "envhooks-chaos-"));
  server = new ServerProcess({
    WEBHOOK_SECRET: SECRET,
    ENVHOOKS_API_TOKEN: TOKEN,
    ENVHOOKS_DATA_DIR: join(folder, "data"),
    ENVHOOKS_ALLOW_PRIVATE_URLS: "true",
  });
  url = await server.ready();
  // A first start on a busy machine (the embedded database created and migrated) can take a minute.
}, 150_000);
afterAll(async () => {
  if (server?.child.exitCode === null) expect(await server.kill("SIGTERM")).toBe(0);
  for (const receiver of receivers.splice(0)) await receiver.stop();
  rmSync(folder, { recursive: true, force: true });
});

async function receiver() {
  const started = await new Receiver().start();
  receivers.push(started);
  return started;
}

/** Sends `deliveries` one after another at `perSecond`; resolves with when each was sent. */
async function paced(deliveries: GithubDelivery[], perSecond: number): Promise<Map<string, number>> {
  const sentAt = new Map<string, number>();
  const start = Date.now();
  await Promise.all(
    deliveries.map(async (delivery, n) => {
      await sleep(Math.max(0, start + (n * 1000) / perSecond - Date.now()));
      sentAt.set(delivery.id, Date.now());
      expect(await post(url, delivery)).toBe(202);
    }),
  );
  return sentAt;
}

it("a receiver down for a while, then up: everything arrives, in order", async () => {
  const repo = "chaos/outage";
  const down = await receiver();
  await subscribe(url, [repo], [down]);
  await down.stop();
  const deliveries = await signedPushes([repo], 40, "outage");
  for (const delivery of deliveries) expect(await post(url, delivery)).toBe(202);
  await sleep(3000);
  expect(down.received).toHaveLength(0);

  await down.start();
  await receivedEach(
    [down],
    deliveries.map((delivery) => delivery.id),
    60_000,
  );
  const messages = down.bodies().map((body) => body.payload.commits[0]?.message);
  expect(messages).toEqual(deliveries.map((_, n) => `${repo} push ${n}`));
  expect(new Set(down.received.map((request) => request.headers["webhook-id"])).size).toBe(40);
});

/**
 * The hanging receiver's integrations give up on it after this long: far above the noise of a
 * busy machine (a healthy delivery's relay p95 reached 3 s on two cores shared with other work).
 */
const HANGING_TIMEOUT_MS = 30_000;
/**
 * Pushes per second while measuring: little enough for a busy machine to keep up with, so that
 * latency shows waiting for a slot, not a backlog of events (50 a second saturated two cores
 * shared with other work, and every latency became the backlog's 15–20 s).
 */
const PER_SECOND = 10;

it("a receiver that hangs past its timeout: healthy integrations' p95 latency stays far below that timeout", async () => {
  const repos = Array.from({ length: 10 }, (_, n) => `chaos/latency-${n}`);
  const healthy = await receiver();
  const hanging = await receiver();
  hanging.answer = () => "hang";
  await subscribe(url, repos, [healthy]);
  // Warm up (first pushes create the environments), then measure.
  const warm = await signedPushes(repos, 50, "warm");
  await paced(warm, PER_SECOND);
  await receivedEach(
    [healthy],
    warm.map((delivery) => delivery.id),
    30_000,
  );

  const stuck: string[] = [];
  for (const repo of repos.slice(0, 5)) {
    const response = await api(url, `/api/projects/${repo}/integrations`, {
      type: "webhook",
      url: hanging.url,
      timeout_ms: HANGING_TIMEOUT_MS,
      retry_schedule: [1, 1, 1, 1, 1],
    });
    expect(response.status).toBe(201);
    stuck.push((await response.json()).id);
  }
  const setHanging = async (on: boolean) => {
    for (const [n, id] of stuck.entries()) {
      const response = await api(
        url,
        `/api/projects/${repos[n]}/integrations/${id}/${on ? "resume" : "pause"}`,
        {},
      );
      expect(response.status).toBe(200);
    }
  };

  // Alternate phases, so that drift of the machine falls on both alike. Two latencies per
  // delivery: from the push (end to end), and from the activity's completion, when its deliveries
  // are written, to the receiver: the relay's part, which a hanging receiver could hold back.
  const p95s = {
    without: { endToEnd: [] as number[], relay: [] as number[] },
    with: { endToEnd: [] as number[], relay: [] as number[] },
  };
  for (const [n, on] of [false, true, false, true, false, true].entries()) {
    await setHanging(on);
    const sent = await paced(await signedPushes(repos, 60, `lat-${n}`), PER_SECOND);
    await receivedEach([healthy], [...sent.keys()], 30_000);
    const arrived = byGithubDelivery(healthy);
    const endToEnd: number[] = [];
    const relay: number[] = [];
    for (const [id, at] of sent) {
      const copy = arrived.get(id)?.[0];
      expect(copy, `delivery for ${id}`).toBeDefined();
      const activity = JSON.parse(copy?.body ?? "{}");
      endToEnd.push((copy?.startedAt ?? 0) - at);
      relay.push((copy?.startedAt ?? 0) - Date.parse(activity.completed_at));
    }
    p95s[on ? "with" : "without"].endToEnd.push(percentile(endToEnd, 95));
    p95s[on ? "with" : "without"].relay.push(percentile(relay, 95));
  }
  expect(hanging.received.length).toBeGreaterThan(0);
  console.log(
    `[chaos] healthy p95 per phase, end to end / relay: without a hanging receiver ` +
      `${p95s.without.endToEnd.join(", ")} / ${p95s.without.relay.join(", ")} ms, ` +
      `with ${p95s.with.endToEnd.join(", ")} / ${p95s.with.relay.join(", ")} ms`,
  );
  // Isolation: a healthy delivery never waits for a hanging one. One held back would wait about
  // the hanging receiver's timeout; the noise of a busy machine stays far below it. (The rise
  // against the phases without, logged above, is that noise: not asserted.) The median of the
  // three phases, so that one burst of the machine's other work does not decide.
  expect(percentile(p95s.with.relay, 50)).toBeLessThan(HANGING_TIMEOUT_MS / 4);
});
