// npm run bench: envhooks measured side by side with what a user would otherwise run, in one run on
// one machine. Each peer is a child process; the webhook receivers are another (bench/receivers.ts);
// this process only generates load: its own open loop for fixed rates, autocannon for saturation.
//
// Peers: a bare node:http server that verifies the signature and answers 202 (the physical limit);
// a plain Probot 14 app with a no-op handler; envhooks on the embedded store; envhooks on
// PostgreSQL (BENCH_DATABASE_URL, else TEST_DATABASE_URL, else 127.0.0.1:5432/test; skipped, with
// the reason, when it cannot connect). Every peer logs at info into a file, as it would in service.
//
// Figures: time to ready; RSS idle and the most seen under load; ack latency of signed pushes sent
// at a fixed 200/s; events/s and ack latency at saturation; for envhooks also the first-attempt
// delivery latency from the GitHub request leaving here to a receiver reading it, with fan-out 1
// and 5 at 200/s, and the signed, logged deliveries/s sustained through a burst with fan-out 5. As in
// production, envhooks runs with GitHub App credentials against a fake GitHub at ~100 ms
// (bench/fake-github-process.ts), and the fan-out phases' pushes come for an installation, so its
// GitHub work (config reads, deployments, statuses) goes on beside their deliveries. These
// loopback phases' receivers answer at once; bench/slow-receiver-phases.ts runs envhooks on both
// stores with receivers that take 50–150 ms, and bench/github-phases.ts with GitHub in the loop (a
// fake GitHub API at ~100 ms), neither with the other peers. BENCH_PHASES=loopback, =slow-receivers
// or =github (or a comma-separated list) runs some kinds, BENCH_PEERS=<part of a peer's name> some
// peers or stores only; either writes bench/results.partial.json. For profiling: BENCH_NO_APP runs
// the loopback phases without GitHub App credentials, BENCH_KEEP keeps the data folder and the
// PostgreSQL database, BENCH_NODE_ARGS passes flags to the peers (--cpu-prof), BENCH_STOP_MS waits
// that long for a peer's graceful stop (a profile is written at exit), MALLOC_ARENA_MAX=2 runs the
// peers with glibc's arenas as the container image sets them. Prints Markdown tables, the last
// one issue 16's targets (one row per figure); writes bench/results.json.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { pushTo } from "../test/fixtures/github-events.ts";
import {
  api,
  atFixedRate,
  type BenchStore,
  buildEnvhooks,
  githubHeaders,
  markdown,
  newDatabase,
  nowMs,
  type Peer,
  percentile,
  Receivers,
  SECRET,
  type Signed,
  signed,
  sleep,
  start,
  stopWithin,
  TOKEN,
} from "./bench-helpers.ts";
import {
  appEnv,
  evaluateGithub,
  FakeGithubProcess,
  forInstallation,
  type GithubResult,
  githubTable,
  measureGithub,
} from "./github-phases.ts";
import type { Arrival } from "./receivers.ts";
import { evaluateSlow, measureSlowReceivers, type SlowResult, slowTable } from "./slow-receiver-phases.ts";
import { type Target, target, targetTable } from "./targets.ts";
import {
  evaluateWaitForChecks,
  measureWaitForChecks,
  type WaitForChecksResult,
  waitForChecksTable,
} from "./wait-for-checks-phase.ts";

const RATE = 200;
const FIXED_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** Sent before each fixed-rate phase and not measured: a server just started runs cold (JIT, caches). */
const WARMUP_SECONDS = 2;
const SATURATION_SECONDS = Number(process.env.BENCH_SATURATION_SECONDS ?? 5);
const CONNECTIONS = 32;
const SUSTAINED_EVENTS = 1000;
const FAN_OUT = 5;
/** Pushes go round-robin to this many repositories of each fan-out. */
const REPOSITORIES = 50;

/** Installations the fan-out phases' repositories belong to, in turn (GitHub sends each event with its own). */
const INSTALLATIONS = 10;

/**
 * Signed pushes to `repos`, round-robin, each a new commit: `start` is the first commit number.
 * `installed`: each sent for its repository's installation of the GitHub App, as GitHub sends
 * them to an App (envhooks then reads its config and writes deployments and statuses).
 */
function signedPushes(
  repos: string[],
  count: number,
  prefix: string,
  start = 0,
  installed = false,
): Signed[] {
  return Array.from({ length: count }, (_, n) => {
    const r = n % repos.length;
    const push = pushTo(repos[r] ?? "", start + Math.floor(n / repos.length));
    return signed(`${prefix}-${n}`, installed ? forInstallation(push, 100 + (r % INSTALLATIONS)) : push);
  });
}

// --- processes -----------------------------------------------------------------------------------

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

/** Samples a process's RSS every 100 ms; `max()` is the most seen since the last `reset()`. */
function watchRss(pid: number) {
  let max = 0;
  const timer = setInterval(() => {
    max = Math.max(max, rssMb(pid));
  }, 100);
  return {
    max: () => Math.max(max, rssMb(pid)),
    stop: () => clearInterval(timer),
  };
}

// --- load ----------------------------------------------------------------------------------------

interface Saturation {
  eventsPerSecond: number;
  accepted: number;
  ackP50: number;
  ackP99: number;
  refused: number;
}

/** Closed loop: CONNECTIONS connections each send the next push as soon as the last is answered. */
async function atSaturation(url: string, pushes: Signed[], options: { amount?: number; seconds?: number }) {
  let next = 0;
  const result = await autocannon({
    url: `${url}/api/github/webhooks`,
    connections: CONNECTIONS,
    ...(options.amount ? { amount: options.amount } : { duration: options.seconds }),
    requests: [
      {
        method: "POST",
        setupRequest: (request) => {
          const push = pushes[next++ % pushes.length] as Signed;
          return { ...request, body: push.body, headers: githubHeaders(push) };
        },
      },
    ],
  });
  return {
    eventsPerSecond: Math.round(result["2xx"] / (result.duration || 1)),
    accepted: result["2xx"],
    ackP50: result.latency.p50,
    ackP99: result.latency.p99,
    refused: result.non2xx + result.errors + result.timeouts,
  } satisfies Saturation;
}

// --- measures ------------------------------------------------------------------------------------

interface Latency {
  expected: number;
  delivered: number;
  /** Copies beyond the first of one delivery. */
  duplicates: number;
  p50: number;
  p95: number;
  p99: number;
}

/** First-attempt latency of each delivery the receivers got for pushes in `sentAt`. */
function deliveryLatency(arrivals: Arrival[], sentAt: Map<string, number>, fanOut: number): Latency {
  const first = new Map<string, number>();
  let duplicates = 0;
  for (const [delivery, path, at] of arrivals) {
    const key = `${delivery} ${path}`;
    if (!sentAt.has(delivery)) continue;
    if (first.has(key)) duplicates++;
    else first.set(key, at);
  }
  const latencies = [...first].map(([key, at]) => at - (sentAt.get(key.split(" ")[0] ?? "") ?? 0));
  if (first.size < sentAt.size * fanOut) {
    const got = new Set([...first.keys()].map((key) => key.split(" ")[0]));
    const missing = [...sentAt.keys()].filter((id) => !got.has(id));
    console.error(`  not received: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? " …" : ""}`);
  }
  return {
    expected: sentAt.size * fanOut,
    delivered: latencies.length,
    duplicates,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}

const ack = (acks: number[]) => ({ ack_p50_ms: percentile(acks, 50), ack_p99_ms: percentile(acks, 99) });

/**
 * The loopback phases on one peer. envhooks runs with GitHub App credentials against a fake GitHub
 * at ~100 ms (a real installation always has them), and the fan-out phases' pushes come for an
 * installation, so GitHub's work goes on beside their deliveries; the saturation phase's do not
 * (ingest, as the other peers are measured).
 */
async function measure(peer: Peer, receivers: Receivers, folder: string) {
  const github = peer.envhooks && !process.env.BENCH_NO_APP ? await FakeGithubProcess.start() : undefined;
  try {
    return await measureWith(
      github ? { ...peer, env: { ...peer.env, ...appEnv(github) } } : peer,
      receivers,
      folder,
    );
  } finally {
    github?.stop();
  }
}

async function measureWith(peer: Peer, receivers: Receivers, folder: string) {
  const logFile = join(folder, `${peer.name.replace(/\W+/g, "-")}.log`);
  const result: Record<string, unknown> = { peer: peer.name };
  let server = await start(peer, logFile);
  result.ready_ms = server.readyMs;
  if (peer.envhooks) {
    // Again on the store just made: what a restart costs.
    await server.stop();
    server = await start(peer, logFile);
    result.ready_restart_ms = server.readyMs;
  }
  const relays = peer.relays ?? peer.envhooks;
  const single = Array.from({ length: REPOSITORIES }, (_, n) => `bench/fan-out-1-${n}`);
  const fanned = Array.from({ length: REPOSITORIES }, (_, n) => `bench/fan-out-5-${n}`);
  if (relays) {
    for (const repo of single)
      await api(server.url, `/api/projects/${repo}/integrations`, integration(receivers, 0));
    for (const repo of fanned) {
      for (let i = 0; i < FAN_OUT; i++) {
        await api(server.url, `/api/projects/${repo}/integrations`, integration(receivers, i));
      }
    }
  }
  await sleep(2000);
  result.rss_idle_mb = rssMb(server.pid);
  const rss = watchRss(server.pid);
  const prefix = `${peer.name.replace(/\W+/g, "-")}-${randomBytes(3).toString("hex")}`;
  const warmup = RATE * WARMUP_SECONDS;
  const events = RATE * FIXED_SECONDS;

  // Fixed rate, fan-out 1 (for the peers: just the pushes).
  let pushes = signedPushes(single, warmup + events, `${prefix}-f1`, 0, relays);
  let commits = Math.ceil(pushes.length / REPOSITORIES);
  const one = await atFixedRate(server.url, pushes, warmup, RATE);
  result.fixed_rate = { events_per_s: RATE, events, refused: one.refused, ...ack(one.acks) };
  if (relays) {
    await receivers.waitFor(`${prefix}-f1-`, pushes.length);
    result.delivery_fan_out_1 = deliveryLatency(await receivers.take(), one.sentAt, 1);

    pushes = signedPushes(fanned, warmup + events, `${prefix}-f5`, 0, true);
    const five = await atFixedRate(server.url, pushes, warmup, RATE);
    await receivers.waitFor(`${prefix}-f5-`, pushes.length * FAN_OUT);
    result.delivery_fan_out_5 = {
      ...deliveryLatency(await receivers.take(), five.sentAt, FAN_OUT),
      refused: five.refused,
      ...ack(five.acks),
    };
  }

  // Saturation, fan-out 1: as many pushes as the peer answers.
  pushes = signedPushes(single, 12_000, `${prefix}-sat`, commits);
  commits += Math.ceil(pushes.length / REPOSITORIES);
  const saturation = await atSaturation(server.url, pushes, { seconds: SATURATION_SECONDS });
  result.saturation = {
    connections: CONNECTIONS,
    seconds: SATURATION_SECONDS,
    events_per_s: saturation.eventsPerSecond,
    refused: saturation.refused,
    ack_p50_ms: saturation.ackP50,
    ack_p99_ms: saturation.ackP99,
  };
  if (relays) {
    const drainBegan = nowMs();
    await receivers.waitFor(`${prefix}-sat-`, saturation.accepted);
    result.saturation = {
      ...(result.saturation as object),
      drained_after_ms: Math.round(nowMs() - drainBegan),
    };
    await receivers.take();

    // A burst with fan-out 5: how many deliveries/s reach the receivers.
    pushes = signedPushes(fanned, SUSTAINED_EVENTS, `${prefix}-burst`, commits, true);
    const statementsBefore = await storeStatements(server.url);
    const burst = await atSaturation(server.url, pushes, { amount: SUSTAINED_EVENTS });
    await receivers.waitFor(`${prefix}-burst-`, burst.accepted * FAN_OUT);
    const statementsAfter = await storeStatements(server.url);
    const first = new Map<string, number>();
    for (const [id, path, at] of await receivers.take()) {
      if (id.startsWith(`${prefix}-burst-`) && !first.has(`${id} ${path}`)) first.set(`${id} ${path}`, at);
    }
    const times = [...first.values()];
    const span = (Math.max(...times) - Math.min(...times)) / 1000;
    result.sustained_fan_out_5 = {
      events: burst.accepted,
      deliveries: times.length,
      deliveries_per_s: Math.round(times.length / span),
      // Every statement envhooks ran meanwhile (intake, apply and relay), per delivery sent.
      ...(statementsBefore !== undefined && statementsAfter !== undefined
        ? {
            statements_per_delivery:
              Math.round(((statementsAfter - statementsBefore) / times.length) * 100) / 100,
          }
        : {}),
    };
  }
  result.rss_load_mb = rss.max();
  rss.stop();
  // GitHub writes still queued may hold a graceful stop: 10 s, then the process is killed.
  await stopWithin(server, 10_000);
  return result;
}

/** envhooks_store_statements_total on the peer's /metrics; undefined when it has none. */
async function storeStatements(url: string): Promise<number | undefined> {
  const text = await fetch(`${url}/metrics`).then(
    (response) => response.text(),
    () => "",
  );
  const match = /^envhooks_store_statements_total (\d+)/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

function integration(receivers: Receivers, n: number) {
  return { type: "webhook", url: `${receivers.url}/integration-${n}` };
}

// --- run -----------------------------------------------------------------------------------------

const main = buildEnvhooks();
const envhooksEnv = {
  WEBHOOK_SECRET: SECRET,
  ENVHOOKS_API_TOKEN: TOKEN,
  ENVHOOKS_ALLOW_PRIVATE_URLS: "true",
};
const folder = mkdtempSync(join(tmpdir(), "envhooks-bench-"));
const receivers = await Receivers.start();
const results: Array<Record<string, unknown>> = [];
const slowResults: SlowResult[] = [];
const githubResults: GithubResult[] = [];
const checksResults: WaitForChecksResult[] = [];
const began = nowMs();
/** BENCH_PHASES=loopback,slow-receivers,github,wait-for-checks (all when unset). */
const phases = process.env.BENCH_PHASES?.split(",") ?? [
  "loopback",
  "slow-receivers",
  "github",
  "wait-for-checks",
];
const only = process.env.BENCH_PEERS?.split(",");
const wanted = (name: string) => !only || only.some((part) => name.includes(part));
const admin =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/test";
try {
  const peers: Peer[] = [
    {
      name: "node:http + verify",
      script: new URL("./peers/bare.ts", import.meta.url).pathname,
      env: { WEBHOOK_SECRET: SECRET },
      envhooks: false,
    },
    {
      name: "Probot 14 app",
      script: new URL("./peers/probot.ts", import.meta.url).pathname,
      env: { WEBHOOK_SECRET: SECRET },
      envhooks: false,
    },
    {
      name: "envhooks (PGlite)",
      script: main,
      env: { ...envhooksEnv, ENVHOOKS_DATA_DIR: join(folder, "data") },
      envhooks: true,
    },
  ];
  if (phases.includes("loopback")) {
    for (const peer of peers.filter((peer) => wanted(peer.name))) {
      console.error(`measuring ${peer.name}…`);
      results.push(await measure(peer, receivers, folder));
    }
    // As above, then a web-role instance: it only stores and answers (workers apply and relay).
    const onPostgres: Array<Pick<Peer, "name" | "relays"> & { env?: Record<string, string> }> = [
      { name: "envhooks (PostgreSQL)" },
      { name: "envhooks (PostgreSQL, web role)", env: { ENVHOOKS_ROLE: "web" }, relays: false },
    ];
    for (const { name, env, relays } of onPostgres.filter((peer) => wanted(peer.name))) {
      const database = await newDatabase(admin).catch((error: Error) => {
        console.error(`PostgreSQL at ${admin} not measured: ${error.message}`);
        return undefined;
      });
      if (!database) break;
      try {
        console.error(`measuring ${name}…`);
        const peerEnv = { ...envhooksEnv, DATABASE_URL: database.url, ...env };
        results.push(
          await measure(
            { name, script: main, env: peerEnv, envhooks: true, ...(relays === undefined ? {} : { relays }) },
            receivers,
            folder,
          ),
        );
      } finally {
        await (process.env.BENCH_KEEP ? database.keep() : database.drop());
      }
    }
  }
  // The slow-receiver and GitHub phases: each on a new store of its own.
  const stores: BenchStore[] = [
    {
      name: "envhooks (PGlite)",
      open: async () => ({
        env: { ENVHOOKS_DATA_DIR: join(folder, `store-${randomBytes(3).toString("hex")}`) },
        drop: async () => {},
      }),
    },
    {
      name: "envhooks (PostgreSQL)",
      open: async () => {
        const database = await newDatabase(admin);
        return { env: { DATABASE_URL: database.url }, drop: () => database.drop() };
      },
    },
  ];
  if (phases.includes("slow-receivers")) {
    for (const store of stores.filter((store) => wanted(store.name))) {
      // Both stores at the same rate: issue 26's targets are at 200 events/s (issue 16's PGlite one was at 100).
      const rate = RATE;
      console.error(`measuring ${store.name} with receivers that take time…`);
      try {
        slowResults.push(
          await measureSlowReceivers(store, { script: main, env: envhooksEnv }, receivers, folder, rate),
        );
      } catch (error) {
        console.error(
          `${store.name} with receivers that take time not measured: ${(error as Error).message}`,
        );
      }
    }
  }
  if (phases.includes("github")) {
    for (const store of stores.filter((store) => wanted(store.name))) {
      console.error(`measuring ${store.name} with GitHub in the loop…`);
      try {
        githubResults.push(await measureGithub(store, { script: main, env: envhooksEnv }, receivers, folder));
      } catch (error) {
        console.error(`${store.name} with GitHub in the loop not measured: ${(error as Error).message}`);
      }
    }
  }
  // wait_for_checks (issue 25): bench/wait-for-checks-phase.ts.
  if (phases.includes("wait-for-checks")) {
    for (const store of stores.filter((store) => wanted(store.name))) {
      try {
        checksResults.push(await measureWaitForChecks(store, { script: main, env: envhooksEnv }, folder));
      } catch (error) {
        console.error(`${store.name} wait_for_checks not measured: ${(error as Error).message}`);
      }
    }
  }
} finally {
  receivers.stop();
  if (process.env.BENCH_KEEP) console.error(`kept ${folder}`);
  else rmSync(folder, { recursive: true, force: true });
}

const targets = [
  ...evaluate(results as unknown as PeerResult[]),
  ...evaluateSlow(slowResults),
  ...evaluateGithub(githubResults),
  ...evaluateWaitForChecks(checksResults),
];
// A run of some peers or phases only (BENCH_PEERS, BENCH_PHASES) leaves the full run's results as they are.
const partial = process.env.BENCH_PEERS || process.env.BENCH_PHASES;
writeFileSync(
  new URL(partial ? "./results.partial.json" : "./results.json", import.meta.url),
  `${JSON.stringify(
    {
      measured_at: new Date().toISOString(),
      node: process.version,
      cpus: availableParallelism(),
      seconds: Math.round((nowMs() - began) / 1000),
      results,
      slow_receivers: slowResults,
      github_in_the_loop: githubResults,
      wait_for_checks: checksResults,
      targets,
    },
    null,
    2,
  )}\n`,
);
if (results.length) console.log(`${table(results as unknown as PeerResult[])}\n`);
if (slowResults.length) console.log(`${slowTable(slowResults)}\n`);
if (githubResults.length) console.log(`${githubTable(githubResults)}\n`);
if (checksResults.length) console.log(`${waitForChecksTable(checksResults)}\n`);
console.log(targetTable(targets));
console.log(
  `\n${availableParallelism()} CPUs, Node ${process.version}; bench took ${Math.round((nowMs() - began) / 1000)} s.`,
);

// --- report --------------------------------------------------------------------------------------

interface Quantiles extends Latency {
  refused?: number;
  ack_p50_ms?: number;
  ack_p99_ms?: number;
}

interface PeerResult {
  peer: string;
  ready_ms: number;
  ready_restart_ms?: number;
  rss_idle_mb: number;
  rss_load_mb: number;
  fixed_rate: { events: number; refused: number; ack_p50_ms: number; ack_p99_ms: number };
  saturation: {
    events_per_s: number;
    refused: number;
    ack_p50_ms: number;
    ack_p99_ms: number;
    drained_after_ms?: number;
  };
  delivery_fan_out_1?: Quantiles;
  delivery_fan_out_5?: Quantiles;
  sustained_fan_out_5?: {
    events: number;
    deliveries: number;
    deliveries_per_s: number;
    statements_per_delivery?: number;
  };
}

/** Events/s at saturation as a percentage of the Probot app's. */
function ingestShare(r: PeerResult, probot: PeerResult | undefined): number | undefined {
  if (!probot || !r.peer.startsWith("envhooks")) return undefined;
  return Math.round((r.saturation.events_per_s / probot.saturation.events_per_s) * 100);
}

function table(results: PeerResult[]): string {
  const probot = results.find((r) => r.peer.startsWith("Probot"));
  const slash = (...values: Array<number | undefined>) => values.map((v) => v ?? "–").join(" / ");
  const delivery = (q: Quantiles | undefined) =>
    q
      ? `${slash(q.p50, q.p95, q.p99)} (${q.delivered}/${q.expected}${q.duplicates ? `, ${q.duplicates} twice` : ""})`
      : "–";
  const rows: Array<[string, (r: PeerResult) => string]> = [
    ["time to ready, ms (new store / restart)", (r) => slash(r.ready_ms, r.ready_restart_ms)],
    ["RSS idle, MB", (r) => String(r.rss_idle_mb)],
    ["RSS under load (most seen), MB", (r) => String(r.rss_load_mb)],
    [`ack p50 / p99 at ${RATE} events/s, ms`, (r) => slash(r.fixed_rate.ack_p50_ms, r.fixed_rate.ack_p99_ms)],
    [
      `ack p50 / p99 at ${RATE} events/s with fan-out ${FAN_OUT}, ms`,
      (r) => slash(r.delivery_fan_out_5?.ack_p50_ms, r.delivery_fan_out_5?.ack_p99_ms),
    ],
    [`saturation (${CONNECTIONS} connections): events/s`, (r) => String(r.saturation.events_per_s)],
    [
      "saturation: events/s as a share of the Probot app's",
      (r) => {
        const share = ingestShare(r, probot);
        return share === undefined ? "–" : `${share} %`;
      },
    ],
    ["saturation: ack p50 / p99, ms", (r) => slash(r.saturation.ack_p50_ms, r.saturation.ack_p99_ms)],
    [
      `first-attempt delivery p50 / p95 / p99 at ${RATE} events/s, fan-out 1, ms`,
      (r) => delivery(r.delivery_fan_out_1),
    ],
    [
      `first-attempt delivery p50 / p95 / p99 at ${RATE} events/s, fan-out ${FAN_OUT}, ms`,
      (r) => delivery(r.delivery_fan_out_5),
    ],
    [
      `signed, logged deliveries/s sustained: ${SUSTAINED_EVENTS} events at once × fan-out ${FAN_OUT}`,
      (r) => String(r.sustained_fan_out_5?.deliveries_per_s ?? "–"),
    ],
    [
      "the same burst: store statements per delivery (intake, apply and relay)",
      (r) => String(r.sustained_fan_out_5?.statements_per_delivery ?? "–"),
    ],
    [
      "refused or failed requests",
      (r) => String(r.fixed_rate.refused + r.saturation.refused + (r.delivery_fan_out_5?.refused ?? 0)),
    ],
  ];
  return markdown(
    ["", ...results.map((r) => r.peer)],
    rows.map(([label, cell]) => [label, ...results.map(cell)]),
  );
}

function evaluate(results: PeerResult[]): Target[] {
  const probot = results.find((r) => r.peer.startsWith("Probot"));
  const targets: Target[] = [];
  for (const r of results.filter((result) => result.peer.startsWith("envhooks"))) {
    const store = r.peer;
    const embedded = store.includes("PGlite");
    // A web-role instance stores and answers only: the rest is measured on the others.
    if (!store.includes("web role")) {
      const f5 = r.delivery_fan_out_5;
      const ackP99 = Math.max(r.fixed_rate.ack_p99_ms, f5?.ack_p99_ms ?? 0);
      targets.push(target("ack", store, `${ackP99} ms`, ackP99 <= (embedded ? 15 : 10)));
      if (embedded) {
        const p95 = r.delivery_fan_out_1?.p95 ?? null;
        targets.push(
          target("fanOut1P95", store, p95 === null ? "–" : `${p95} ms`, p95 !== null && p95 <= 50),
        );
      }
      const sustained = r.sustained_fan_out_5?.deliveries_per_s ?? 0;
      targets.push(target("sustained", store, `${sustained}/s`, sustained >= (embedded ? 1500 : 3000)));
    }
    const share = ingestShare(r, probot);
    if (share !== undefined)
      targets.push(target("ingest", store, `${share} %`, share >= (embedded ? 25 : 50)));
    if (!store.includes("web role")) {
      const limit = embedded ? 250 : 120;
      targets.push(target("rss", store, `${r.rss_idle_mb} MB`, r.rss_idle_mb <= limit));
      const loadLimit = embedded ? 400 : 250;
      targets.push(target("rssLoad", store, `${r.rss_load_mb} MB`, r.rss_load_mb <= loadLimit));
    }
  }
  return targets;
}
