// npm run bench: envhooks as `npm start` runs it (a child process) and a webhook receiver in this
// process, on loopback. Prints a Markdown table; writes bench/results.json.
//
// For each store (embedded; PostgreSQL too when TEST_DATABASE_URL is set):
// - time from process start to /readyz = 200, on a new data folder and on reopening it;
// - resident memory of the idle server, and after the load;
// - first-attempt delivery latency: from a signed GitHub push leaving here to the receiver getting
//   its activity, for BENCH_ACTIVITIES pushes sent at BENCH_RATE per second (after BENCH_WARMUP
//   unmeasured ones), to one repository and to ten.
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

const COUNT = Number(process.env.BENCH_ACTIVITIES ?? 1000);
const RATE = Number(process.env.BENCH_RATE ?? 30); // pushes per second
// Sent first and not measured: a server just (re)started runs cold (JIT, buffer cache).
const WARMUP = Number(process.env.BENCH_WARMUP ?? 100);
// Pushes go round-robin to this many repositories (each with one webhook integration): one
// repository's events are applied one after another, several repositories' side by side.
const REPOSITORIES = (process.env.BENCH_REPOSITORIES ?? "1,10").split(",").map(Number);
const SECRET = "bench-secret";
const TOKEN = "bench-token";
const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
const PUSH = JSON.parse(readFileSync(new URL("../examples/push.json", import.meta.url), "utf8"));

interface Server {
  url: string;
  pid: number;
  readyMs: number;
  stop(): Promise<void>;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const started = performance.now();
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS?.split(" ") ?? []), MAIN], {
    env: { PATH: process.env.PATH, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk;
      const match = /"port":(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`server exited ${code}: ${output}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  while ((await fetch(`${url}/readyz`).catch(() => undefined))?.status !== 200) await sleep(10);
  return {
    url,
    pid: child.pid ?? 0,
    readyMs: Math.round(performance.now() - started),
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(store: string, env: Record<string, string>, repos: number) {
  const received = new Map<string, number>();
  const receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const at = performance.now();
      const body = JSON.parse(Buffer.concat(chunks).toString());
      received.set(`${body.project}#${body.parameters.environment}`, at);
      response.end("ok");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const fresh = await startServer(env);
  await fresh.stop();
  const server = await startServer(env);
  await sleep(2000);
  const idleRss = rssMb(server.pid);

  const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  const repositories = Array.from({ length: repos }, (_, n) => `bench-org/repo-${n}`);
  for (const repository of repositories) {
    const created = await fetch(`${server.url}/api/projects/${repository}/integrations`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ type: "webhook", url: receiverUrl, events: ["environment.branch"] }),
    });
    if (created.status !== 201) throw new Error(`integration: ${created.status} ${await created.text()}`);
  }

  // Open loop: pushes leave on schedule whether or not earlier ones were answered.
  const sent = new Map<string, number>();
  const answers: Array<Promise<number>> = [];
  const interval = 1000 / RATE;
  const begin = performance.now();
  for (let i = -WARMUP; i < COUNT; i++) {
    const branch = `bench-${i}`;
    const repository = repositories[(i + WARMUP) % repos] ?? "";
    const body = JSON.stringify({
      ...PUSH,
      repository: { ...PUSH.repository, full_name: repository, name: repository.split("/")[1] },
      ref: `refs/heads/${branch}`,
      created: false,
      after: randomBytes(20).toString("hex"),
    });
    const signature = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
    const wait = begin + (i + WARMUP) * interval - performance.now();
    if (wait > 0) await sleep(wait);
    if (i >= 0) sent.set(`${repository}#${branch}`, performance.now());
    answers.push(
      fetch(`${server.url}/api/github/webhooks`, {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "x-github-event": "push",
          "x-github-delivery": `bench-${store}-${repos}-${i}`,
          "x-hub-signature-256": signature,
        },
      }).then((response) => response.status),
    );
  }
  const statuses = await Promise.all(answers);
  const refused = statuses.filter((status) => status !== 202).length;
  if (refused > 0) throw new Error(`${refused} pushes were not answered 202`);
  const deadline = performance.now() + 60_000;
  while (received.size < COUNT + WARMUP && performance.now() < deadline) await sleep(20);
  const loadedRss = rssMb(server.pid);
  const latencies = [...sent].flatMap(([key, at]) => {
    const got = received.get(key);
    return got === undefined ? [] : [got - at];
  });
  latencies.sort((a, b) => a - b);
  await server.stop();
  receiver.close();
  return {
    store,
    ready_new_ms: fresh.readyMs,
    ready_reopen_ms: server.readyMs,
    rss_idle_mb: idleRss,
    rss_after_load_mb: loadedRss,
    repositories: repos,
    activities: COUNT,
    warmup: WARMUP,
    rate_per_s: RATE,
    delivered: latencies.length,
    latency_p50_ms: Math.round(percentile(latencies, 50)),
    latency_p95_ms: Math.round(percentile(latencies, 95)),
    latency_p99_ms: Math.round(percentile(latencies, 99)),
    latency_max_ms: Math.round(latencies.at(-1) ?? Number.NaN),
  };
}

const base = { WEBHOOK_SECRET: SECRET, ENVHOOKS_API_TOKEN: TOKEN, ENVHOOKS_ALLOW_PRIVATE_URLS: "true" };
const results = [];
const folder = mkdtempSync(join(tmpdir(), "envhooks-bench-"));
const admin = process.env.TEST_DATABASE_URL;
if (!admin) console.log("TEST_DATABASE_URL is not set: PostgreSQL not measured.\n");
try {
  for (const repos of REPOSITORIES) {
    const dataDir = join(folder, `data-${repos}`);
    results.push(await measure("embedded (PGlite)", { ...base, ENVHOOKS_DATA_DIR: dataDir }, repos));
    if (admin)
      results.push(
        await onNewDatabase(admin, (url) => measure("PostgreSQL", { ...base, DATABASE_URL: url }, repos)),
      );
  }
} finally {
  rmSync(folder, { recursive: true, force: true });
}

/** Runs `work` on a database of its own on the server at `admin`, dropped afterwards. */
async function onNewDatabase<T>(admin: string, work: (url: string) => Promise<T>): Promise<T> {
  const name = `envhooks_bench_${randomBytes(4).toString("hex")}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  try {
    return await work(url.toString());
  } finally {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.end();
  }
}

const columns = Object.keys(results[0] ?? {}) as Array<keyof (typeof results)[0]>;
console.log(`| ${columns.join(" | ")} |`);
console.log(`| ${columns.map(() => "---").join(" | ")} |`);
for (const row of results) console.log(`| ${columns.map((c) => row[c]).join(" | ")} |`);
writeFileSync(
  new URL("./results.json", import.meta.url),
  `${JSON.stringify({ measured_at: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
);
