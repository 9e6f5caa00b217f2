// The phases of `npm run bench` whose receivers take time to answer, as Slack's, Teams' or a CI's
// webhooks do (100–300 ms): the loopback phases' receivers answer at once, which hides every wait
// on a receiver. Each phase gets a new store and envhooks:
// 1. 50 repositories with 5 webhooks each, the five on receivers of their own (a port each: envhooks
//    keeps a connection pool per origin, and five services are five origins) that answer in
//    50–150 ms, drawn evenly; signed pushes round-robin at 200/s on PostgreSQL, 100/s on the
//    embedded store, for BENCH_SECONDS after 2 s not measured. First-attempt delivery latency as
//    measured, from the GitHub request leaving here until the receiver answered, and over the
//    receiver's own time: minus the time the receiver held that attempt, which it records for each
//    (bench/receivers.ts). What remains is envhooks' own: storing, applying, waiting for a turn.
//    envhooks runs with GitHub App credentials against a fake GitHub at ~100 ms, and each push
//    comes for an installation (10 in all), as in production: GitHub's work goes on beside.
//    Deliveries still missing 30 s after the last push count as the slowest ("> 30 s").
// 2. One integration whose receiver answers in 100 ms, and 800 pushes over 20 branches of one
//    repository (20 environments) sent at 400/s: the deliveries/s it sustains, from its first
//    delivery to its last (or to the end of a 20 s window).
// Both say how many sends envhooks had in flight (requests the receivers held at once as each
// delivery arrived): at ~100 ms a receiver, deliveries/s ≈ 10 × sends in flight, so a rate short of
// its target shows whether envhooks sent too few at once or was slow to have them ready.
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
import { appEnv, FakeGithubProcess, forInstallation } from "./github-phases.ts";
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

/** How long the fan-out phase waits for its last deliveries after its last push. */
const DRAIN_WAIT_MS = 30_000;

/** Milliseconds; null: beyond the phase's wait (a delivery missing then counts as the slowest). */
interface Quantiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

const orNull = (value: number) => (Number.isFinite(value) ? value : null);

/** Quantiles of `values` with `missing` more values counted as slower than any. */
const quantiles = (values: number[], missing = 0): Quantiles => {
  const all = [...values, ...Array.from({ length: Math.max(0, missing) }, () => Infinity)];
  return {
    p50: orNull(percentile(all, 50)),
    p95: orNull(percentile(all, 95)),
    p99: orNull(percentile(all, 99)),
  };
};

export interface SlowResult {
  peer: string;
  fan_out_5: {
    events_per_s: number;
    events: number;
    expected: number;
    delivered: number;
    /** After the last push, how long the phase waited for the deliveries still missing. */
    waited_s: number;
    /** Copies beyond the first of one delivery (the same webhook-id again). */
    duplicates: number;
    refused: number;
    ack_p50_ms: number;
    ack_p99_ms: number;
    /**
     * From the GitHub request leaving until the receiver answered the delivery's first attempt;
     * deliveries missing after `waited_s` count as the slowest.
     */
    measured: Quantiles;
    /** The same minus the time the receiver held that attempt: envhooks' own latency. */
    over_receiver: Quantiles;
    /** How long the receivers held first attempts. */
    held: Quantiles;
    /** Requests the receivers held at once as each first attempt arrived: envhooks' sends in flight. */
    in_flight_mean: number;
    in_flight_max: number;
  };
  twenty_environments: {
    pushes: number;
    environments: number;
    hold_ms: number;
    delivered: number;
    /** From the first delivery to the last, or to the end of the window when some were still missing. */
    seconds: number;
    deliveries_per_s: number;
    /** Requests its receiver held at once as each delivery arrived: mean and most. */
    in_flight_mean: number;
    in_flight_max: number;
  };
}

/** Mean and most of the sends in flight seen by the receivers. */
function inFlight(seen: number[]): { in_flight_mean: number; in_flight_max: number } {
  const sum = seen.reduce((a, b) => a + b, 0);
  return {
    in_flight_mean: seen.length ? Math.round((sum / seen.length) * 10) / 10 : 0,
    in_flight_max: seen.length ? Math.max(...seen) : 0,
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
  // Each for its repository's installation of the GitHub App (10 in all), as GitHub sends them.
  const pushes = Array.from({ length: warmup + rate * SECONDS }, (_, n) =>
    signed(
      `${prefix}-${n}`,
      forInstallation(pushTo(repos[n % repos.length] ?? "", Math.floor(n / repos.length)), 200 + (n % 10)),
    ),
  );
  const sent = await atFixedRate(url, pushes, warmup, rate);
  const lastPushAt = nowMs();
  await receivers.waitFor(`${prefix}-`, (pushes.length - sent.refused) * FAN_OUT, DRAIN_WAIT_MS);
  const waited = nowMs() - lastPushAt;
  // The first attempt of each delivery: the first arrival of its webhook-id.
  const first = new Map<string, { at: number; held: number; delivery: string; inFlight: number }>();
  let duplicates = 0;
  for (const [delivery, , at, held, webhookId, inFlight] of await receivers.take()) {
    if (!sent.sentAt.has(delivery)) continue;
    const seen = first.get(webhookId);
    if (seen) duplicates++;
    if (!seen || at < seen.at) first.set(webhookId, { at, held, delivery, inFlight });
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
  const expected =
    (sent.sentAt.size - [...sent.refusedIds].filter((id) => sent.sentAt.has(id)).length) * FAN_OUT;
  const missing = expected - first.size;
  return {
    events_per_s: rate,
    events: sent.sentAt.size,
    expected,
    delivered: first.size,
    waited_s: Math.round(waited / 1000),
    duplicates,
    refused: sent.refused,
    ack_p50_ms: percentile(sent.acks, 50),
    ack_p99_ms: percentile(sent.acks, 99),
    measured: quantiles(measured, missing),
    over_receiver: quantiles(over, missing),
    held: quantiles(held),
    ...inFlight([...first.values()].map((arrival) => arrival.inFlight)),
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
  const concurrent: number[] = [];
  for (const [delivery, , at, , webhookId, inFlight] of await receivers.take()) {
    if (!delivery.startsWith(`${prefix}-`) || times.has(webhookId)) continue;
    times.set(webhookId, at);
    concurrent.push(inFlight);
  }
  const ats = [...times.values()];
  // From the first delivery (or, when none came, the first push) to the last, or to the cut.
  const from = ats.length ? Math.min(...ats) : began;
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
    ...inFlight(concurrent),
  } satisfies SlowResult["twenty_environments"];
}

/** Both phases, each on a new store and envhooks: no backlog of the first slows the second. */
export async function measureSlowReceivers(
  store: BenchStore,
  envhooks: { script: string; env: Record<string, string> },
  receivers: Receivers,
  folder: string,
  rate: number,
): Promise<SlowResult> {
  const logFile = join(folder, `${store.name.replace(/\W+/g, "-")}-slow.log`);
  const prefix = `${store.name.replace(/\W+/g, "-")}-slow-${Math.random().toString(16).slice(2, 8)}`;
  const phase = async <T>(name: string, run: (url: string) => Promise<T>, app = false): Promise<T> => {
    console.error(`  ${name}…`);
    const began = nowMs();
    const github = app ? await FakeGithubProcess.start() : undefined;
    const opened = await store.open();
    try {
      const server = await start(
        {
          name: store.name,
          script: envhooks.script,
          envhooks: true,
          env: { ...envhooks.env, ...opened.env, ...(github ? appEnv(github) : {}) },
        },
        logFile,
      );
      try {
        return await run(server.url);
      } finally {
        // Deliveries still queued are dropped with the store: a graceful stop, or a kill after 10 s.
        await stopWithin(server, 10_000);
      }
    } finally {
      github?.stop();
      await opened.drop();
      console.error(`  (${Math.round((nowMs() - began) / 1000)} s)`);
    }
  };
  return {
    peer: store.name,
    fan_out_5: await phase(
      `receivers at 50–150 ms, fan-out ${FAN_OUT}, ${rate} events/s, GitHub App at ~100 ms`,
      (url) => fanOut(url, receivers, rate, `${prefix}-f5`),
      true,
    ),
    twenty_environments: await phase(
      `one integration, ${BRANCHES} environments, receiver at ${HOLD_MS} ms`,
      (url) => twentyEnvironments(url, receivers, `${prefix}-twenty`),
    ),
  };
}

// --- report --------------------------------------------------------------------------------------

/** A quantile in ms, or what is known of it when deliveries were still missing. */
const ms = (value: number | null, waitedS: number) => (value === null ? `> ${waitedS} s` : String(value));
const slash = (q: Quantiles, waitedS: number) =>
  `${ms(q.p50, waitedS)} / ${ms(q.p95, waitedS)} / ${ms(q.p99, waitedS)}`;

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
        `${slash(r.fan_out_5.measured, r.fan_out_5.waited_s)} (${r.fan_out_5.delivered}/${r.fan_out_5.expected}${r.fan_out_5.duplicates ? `, ${r.fan_out_5.duplicates} twice` : ""})`,
    ],
    [
      "… the same over the receiver's own time, ms",
      (r) => slash(r.fan_out_5.over_receiver, r.fan_out_5.waited_s),
    ],
    [
      "… the receiver's own time, ms",
      (r) => (r.fan_out_5.delivered ? slash(r.fan_out_5.held, r.fan_out_5.waited_s) : "–"),
    ],
    [
      "… sends in flight as each delivery arrived (requests the receivers held at once), mean / most",
      (r) => `${r.fan_out_5.in_flight_mean} / ${r.fan_out_5.in_flight_max}`,
    ],
    [
      `one integration, ${BRANCHES} environments, receiver at ${HOLD_MS} ms: deliveries/s sustained`,
      (r) =>
        `${r.twenty_environments.deliveries_per_s} (${r.twenty_environments.delivered}/${r.twenty_environments.pushes} in ${r.twenty_environments.seconds} s)`,
    ],
    [
      "… sends in flight as each delivery arrived, mean / most",
      (r) => `${r.twenty_environments.in_flight_mean} / ${r.twenty_environments.in_flight_max}`,
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
    const { p95, p99 } = f5.over_receiver;
    const missing = f5.delivered < f5.expected ? ` (${f5.delivered}/${f5.expected} delivered)` : "";
    const shown = (value: number | null) =>
      `${ms(value, f5.waited_s)}${value === null ? "" : " ms"}${missing}`;
    const twenty = r.twenty_environments;
    const embedded = r.peer.includes("PGlite");
    return [
      target("addedP95", r.peer, shown(p95), p95 !== null && p95 <= (embedded ? 250 : 100)),
      target("addedP99", r.peer, shown(p99), p99 !== null && p99 <= (embedded ? 500 : 200)),
      target("oneIntegration", r.peer, `${twenty.deliveries_per_s}/s`, twenty.deliveries_per_s >= 120),
    ];
  });
}
