// The phases of `npm run bench` whose receivers take time to answer, as Slack's, Teams' or a CI's
// webhooks do (100–300 ms): the loopback phases' receivers answer at once, which hides every wait
// on a receiver. Each store gets a new store and envhooks, without GitHub credentials:
// 1. 50 repositories with 5 webhooks each, the five on receivers of their own (a port each: envhooks
//    keeps a connection pool per origin, and five services are five origins) that answer in
//    50–150 ms, drawn evenly; signed pushes round-robin at 200/s on PostgreSQL, 100/s on the
//    embedded store, for BENCH_SECONDS after 2 s not measured. First-attempt delivery latency as
//    measured, from the GitHub request leaving here until the receiver answered, and over the
//    receiver's own time: minus the time the receiver held that attempt, which it records for each
//    (bench/receivers.ts). What remains is envhooks' own: storing, applying, waiting for a turn.
// 2. One integration whose receiver answers in 100 ms, and 800 pushes over 20 branches of one
//    repository (20 environments) sent at 400/s: the deliveries/s it sustains, from its first
//    delivery to its last (or to the end of a 20 s window).
import { join } from "node:path";
import { pushTo, pushToBranch } from "../test/fixtures/github-events.ts";
import {
  api,
  atFixedRate,
  type BenchStore,
  markdown,
  nowMs,
  percentile,
  type Receivers,
  type Signed,
  signed,
  start,
  stopWithin,
} from "./bench-helpers.ts";
import { type Target, target } from "./targets.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 2;
const FAN_OUT = 5;
const REPOSITORIES = 50;
/** The fan-out's receivers: 50–150 ms, drawn evenly for each attempt. */
const JITTERED = "/hold/50-150";
const BRANCHES = 20;
const PUSHES_PER_BRANCH = 40;
const HOLD_MS = 100;
/** Pushes for the 20 environments leave at this rate: faster than 160 deliveries/s can drain them. */
const BRANCH_PUSH_RATE = 400;
const WINDOW_MS = 20_000;

interface Quantiles {
  p50: number;
  p95: number;
  p99: number;
}

const quantiles = (values: number[]): Quantiles => ({
  p50: percentile(values, 50),
  p95: percentile(values, 95),
  p99: percentile(values, 99),
});

export interface SlowResult {
  peer: string;
  fan_out_5: {
    events_per_s: number;
    events: number;
    expected: number;
    delivered: number;
    /** Copies beyond the first of one delivery (the same webhook-id again). */
    duplicates: number;
    refused: number;
    ack_p50_ms: number;
    ack_p99_ms: number;
    /** From the GitHub request leaving until the receiver answered the delivery's first attempt. */
    measured: Quantiles;
    /** The same minus the time the receiver held that attempt: envhooks' own latency. */
    over_receiver: Quantiles;
    /** How long the receivers held first attempts. */
    held: Quantiles;
  };
  twenty_environments: {
    pushes: number;
    environments: number;
    hold_ms: number;
    delivered: number;
    /** From the first delivery to the last, or to the end of the window when some were still missing. */
    seconds: number;
    deliveries_per_s: number;
  };
}

/** Signed pushes of `repo` to `branches` in turn, each a new commit of its branch. */
function branchPushes(repo: string, branches: string[], count: number, prefix: string): Signed[] {
  const repository = pushTo(repo, 0).repository;
  return Array.from({ length: count }, (_, n) => {
    const b = n % branches.length;
    const k = Math.floor(n / branches.length);
    const commit = (i: number) => `${b.toString(16).padStart(2, "0")}${i.toString(16).padStart(38, "0")}`;
    const payload = pushToBranch(branches[b] ?? "", { before: commit(k), after: commit(k + 1) });
    payload.repository = repository;
    return signed(`${prefix}-${n}`, payload);
  });
}

async function fanOut(url: string, receivers: Receivers, rate: number, prefix: string) {
  const repos = Array.from({ length: REPOSITORIES }, (_, n) => `bench-slow/fan-out-5-${n}`);
  for (const repo of repos) {
    for (let i = 0; i < FAN_OUT; i++) {
      const origin = receivers.urls[i] ?? receivers.url;
      await api(url, `/api/projects/${repo}/integrations`, {
        type: "webhook",
        url: `${origin}${JITTERED}/fan-out-${i}`,
      });
    }
  }
  const warmup = rate * WARMUP_SECONDS;
  const pushes = Array.from({ length: warmup + rate * SECONDS }, (_, n) =>
    signed(`${prefix}-${n}`, pushTo(repos[n % repos.length] ?? "", Math.floor(n / repos.length))),
  );
  const sent = await atFixedRate(url, pushes, warmup, rate);
  await receivers.waitFor(`${prefix}-`, (pushes.length - sent.refused) * FAN_OUT);
  // The first attempt of each delivery: the first arrival of its webhook-id.
  const first = new Map<string, { at: number; held: number; delivery: string }>();
  let duplicates = 0;
  for (const [delivery, , at, held, webhookId] of await receivers.take()) {
    if (!sent.sentAt.has(delivery)) continue;
    const seen = first.get(webhookId);
    if (seen) duplicates++;
    if (!seen || at < seen.at) first.set(webhookId, { at, held, delivery });
  }
  const measured: number[] = [];
  const over: number[] = [];
  const held: number[] = [];
  for (const arrival of first.values()) {
    const leftAt = sent.sentAt.get(arrival.delivery) ?? 0;
    measured.push(arrival.at + arrival.held - leftAt);
    over.push(arrival.at - leftAt);
    held.push(arrival.held);
  }
  return {
    events_per_s: rate,
    events: sent.sentAt.size,
    expected: (sent.sentAt.size - [...sent.refusedIds].filter((id) => sent.sentAt.has(id)).length) * FAN_OUT,
    delivered: first.size,
    duplicates,
    refused: sent.refused,
    ack_p50_ms: percentile(sent.acks, 50),
    ack_p99_ms: percentile(sent.acks, 99),
    measured: quantiles(measured),
    over_receiver: quantiles(over),
    held: quantiles(held),
  } satisfies SlowResult["fan_out_5"];
}

async function twentyEnvironments(url: string, receivers: Receivers, prefix: string) {
  const repo = "bench-slow/twenty-environments";
  const origin = receivers.urls[FAN_OUT] ?? receivers.url;
  await api(url, `/api/projects/${repo}/integrations`, {
    type: "webhook",
    url: `${origin}/hold/${HOLD_MS}/twenty-environments`,
  });
  const branches = Array.from({ length: BRANCHES }, (_, n) => `feature-${n}`);
  const pushes = branchPushes(repo, branches, BRANCHES * PUSHES_PER_BRANCH, prefix);
  const began = nowMs();
  const sent = await atFixedRate(url, pushes, 0, BRANCH_PUSH_RATE);
  const expected = pushes.length - sent.refused;
  let delivered = await receivers.count(`${prefix}-`);
  while (delivered < expected && nowMs() - began < WINDOW_MS) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    delivered = await receivers.count(`${prefix}-`);
  }
  const cutAt = nowMs();
  const times = new Map<string, number>();
  for (const [delivery, , at, , webhookId] of await receivers.take()) {
    if (delivery.startsWith(`${prefix}-`) && !times.has(webhookId)) times.set(webhookId, at);
  }
  const ats = [...times.values()];
  const from = Math.min(...ats);
  const until = times.size >= expected ? Math.max(...ats) : cutAt;
  const seconds = (until - from) / 1000;
  if (times.size < expected)
    console.error(`  ${expected - times.size} of ${expected} not delivered within the window`);
  return {
    pushes: pushes.length,
    environments: BRANCHES,
    hold_ms: HOLD_MS,
    delivered: times.size,
    seconds: Math.round(seconds * 10) / 10,
    deliveries_per_s: seconds > 0 ? Math.round(times.size / seconds) : 0,
  } satisfies SlowResult["twenty_environments"];
}

/** Both phases on one new store. */
export async function measureSlowReceivers(
  store: BenchStore,
  envhooks: { script: string; env: Record<string, string> },
  receivers: Receivers,
  folder: string,
  rate: number,
): Promise<SlowResult> {
  const logFile = join(folder, `${store.name.replace(/\W+/g, "-")}-slow.log`);
  const prefix = `${store.name.replace(/\W+/g, "-")}-slow-${Math.random().toString(16).slice(2, 8)}`;
  const opened = await store.open();
  try {
    const server = await start(
      { name: store.name, script: envhooks.script, envhooks: true, env: { ...envhooks.env, ...opened.env } },
      logFile,
    );
    try {
      console.error(`  receivers at 50–150 ms, fan-out ${FAN_OUT}, ${rate} events/s…`);
      const fan_out_5 = await fanOut(server.url, receivers, rate, `${prefix}-f5`);
      console.error(`  one integration, ${BRANCHES} environments, receiver at ${HOLD_MS} ms…`);
      const twenty_environments = await twentyEnvironments(server.url, receivers, `${prefix}-twenty`);
      return { peer: store.name, fan_out_5, twenty_environments };
    } finally {
      await stopWithin(server, 10_000);
    }
  } finally {
    await opened.drop();
  }
}

// --- report --------------------------------------------------------------------------------------

const slash = (q: Quantiles) => `${q.p50} / ${q.p95} / ${q.p99}`;

/** The table of these phases, one column per store. */
export function slowTable(results: SlowResult[]): string {
  const rows: Array<[string, (r: SlowResult) => string]> = [
    [
      `receivers at 50–150 ms, fan-out ${FAN_OUT}, 50 repositories: events/s`,
      (r) => String(r.fan_out_5.events_per_s),
    ],
    ["… ack p50 / p99, ms", (r) => `${r.fan_out_5.ack_p50_ms} / ${r.fan_out_5.ack_p99_ms}`],
    [
      "… first-attempt delivery p50 / p95 / p99 until the receiver answered, ms",
      (r) =>
        `${slash(r.fan_out_5.measured)} (${r.fan_out_5.delivered}/${r.fan_out_5.expected}${r.fan_out_5.duplicates ? `, ${r.fan_out_5.duplicates} twice` : ""})`,
    ],
    ["… the same over the receiver's own time, ms", (r) => slash(r.fan_out_5.over_receiver)],
    ["… the receiver's own time, ms", (r) => slash(r.fan_out_5.held)],
    [
      `one integration, ${BRANCHES} environments, receiver at ${HOLD_MS} ms: deliveries/s sustained`,
      (r) =>
        `${r.twenty_environments.deliveries_per_s} (${r.twenty_environments.delivered}/${r.twenty_environments.pushes} in ${r.twenty_environments.seconds} s)`,
    ],
  ];
  return markdown(
    ["receivers that take time", ...results.map((r) => r.peer)],
    rows.map(([label, cell]) => [label, ...results.map(cell)]),
  );
}

export function evaluateSlow(results: SlowResult[]): Target[] {
  return results.flatMap((r) => {
    const f5 = r.fan_out_5;
    // Latencies of some deliveries only say nothing of the missing ones: all must have arrived.
    const all = f5.delivered >= f5.expected;
    const missing = all ? "" : ` (${f5.delivered}/${f5.expected} delivered)`;
    const twenty = r.twenty_environments;
    return [
      target("addedP95", r.peer, `${f5.over_receiver.p95} ms${missing}`, all && f5.over_receiver.p95 <= 25),
      target("addedP99", r.peer, `${f5.over_receiver.p99} ms${missing}`, all && f5.over_receiver.p99 <= 50),
      target("oneIntegration", r.peer, `${twenty.deliveries_per_s}/s`, twenty.deliveries_per_s >= 120),
    ];
  });
}
