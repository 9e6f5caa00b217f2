// npm run bench:memory: envhooks' resident memory on each store, idle, under load and once the load
// has ended, with where it is (docs/performance.md, Memory). Not part of `npm run bench`, whose RSS figures
// are the idle and most-under-load ones beside the other peers; this one also watches memory come
// back down, and splits it by mapping (/proc/<pid>/smaps): PGlite's WebAssembly memory is one
// mapping of several GB reserved, of which only what it touched is resident.
//
// Load: 200 pushes/s for BENCH_SECONDS (10) with fan-out 5 to receivers that answer at once, then
// 1,000 pushes at once (fan-out 5). BENCH_PEERS=PGlite or =PostgreSQL measures one store only.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushTo } from "../test/fixtures/github-events.ts";
import {
  api,
  atFixedRate,
  buildEnvhooks,
  newDatabase,
  nowMs,
  Receivers,
  SECRET,
  type Signed,
  signed,
  sleep,
  start,
  TOKEN,
} from "./bench-helpers.ts";

const RATE = 200;
const main = buildEnvhooks();
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BURST = 1000;
const FAN_OUT = 5;
const REPOSITORIES = 50;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

/**
 * Resident MB by kind of mapping (/proc/<pid>/smaps): PGlite's WebAssembly memory (the accessible
 * part of a reservation followed by GBs of guard pages), V8's heap pages (256 KB each, both
 * isolates: the main thread's and the PGlite thread's), glibc's malloc arenas (one per thread that
 * allocates, 64 MB aligned, and the main one, [heap]: V8's and ICU's C++ data, buffers), files
 * (node, libraries) and the rest.
 */
function mappings(pid: number): Record<string, number> {
  interface Mapping {
    start: bigint;
    end: bigint;
    perm: string;
    name: string;
    size: number;
    rss: number;
  }
  const list: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      list.push({
        start: BigInt(`0x${head[1]}`),
        end: BigInt(`0x${head[2]}`),
        perm: head[3] ?? "",
        name: head[4] ?? "",
        size: 0,
        rss: 0,
      });
      continue;
    }
    const field = /^(Size|Rss):\s+(\d+) kB/.exec(line);
    const last = list.at(-1);
    if (field && last) last[field[1] === "Size" ? "size" : "rss"] = Number(field[2]);
  }
  const out: Record<string, number> = {
    total: 0,
    "wasm memory": 0,
    "V8 heap pages": 0,
    "malloc arenas": 0,
    files: 0,
    other: 0,
  };
  const ARENA = 64n * 1024n * 1024n;
  for (const [n, m] of list.entries()) {
    const next = list[n + 1];
    let kind = "other";
    if (m.name.startsWith("/")) kind = "files";
    else if (m.name === "[heap]") kind = "malloc arenas";
    else if (
      m.name === "" &&
      next &&
      next.start === m.end &&
      next.perm === "---p" &&
      next.size > 4 * 1024 * 1024
    )
      kind = "wasm memory";
    else if (m.name === "" && m.start % ARENA === 0n && m.start > 0x700000000000n) kind = "malloc arenas";
    else if (m.name === "" && m.size === 256) kind = "V8 heap pages";
    out[kind] = (out[kind] ?? 0) + m.rss;
    out.total = (out.total ?? 0) + m.rss;
  }
  return Object.fromEntries(Object.entries(out).map(([key, kb]) => [key, Math.round(kb / 1024)]));
}

/** The main thread's JavaScript heap, MB, from envhooks' own metrics. */
async function mainHeapMb(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const used = /^envhooks_nodejs_heap_size_total_bytes (\S+)$/m.exec(text)?.[1];
  return Math.round(Number(used ?? 0) / 1024 / 1024);
}

function signedPushes(repos: string[], count: number, prefix: string, first = 0): Signed[] {
  return Array.from({ length: count }, (_, n) =>
    signed(`${prefix}-${n}`, pushTo(repos[n % repos.length] ?? "", first + Math.floor(n / repos.length))),
  );
}

async function measure(name: string, env: Record<string, string>, receivers: Receivers, folder: string) {
  const server = await start(
    {
      name,
      script: main,
      env: {
        WEBHOOK_SECRET: SECRET,
        ENVHOOKS_API_TOKEN: TOKEN,
        ENVHOOKS_ALLOW_PRIVATE_URLS: "true",
        ...env,
      },
      envhooks: true,
    },
    join(folder, `${name.replace(/\W+/g, "-")}.log`),
  );
  try {
    const repos = Array.from({ length: REPOSITORIES }, (_, n) => `bench/memory-${n}`);
    for (const repo of repos) {
      for (let i = 0; i < FAN_OUT; i++) {
        await api(server.url, `/api/projects/${repo}/integrations`, {
          type: "webhook",
          url: `${receivers.url}/integration-${i}`,
        });
      }
    }
    await sleep(3000);
    const idle = rssMb(server.pid);
    const idleParts = {
      ...mappings(server.pid),
      "main JS heap (of V8 heap pages)": await mainHeapMb(server.url),
    };
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(most, rssMb(server.pid));
    }, 100);
    const steady = signedPushes(repos, RATE * SECONDS, `${name}-steady`);
    await atFixedRate(server.url, steady, 0, RATE);
    const burst = signedPushes(repos, BURST, `${name}-burst`, Math.ceil(steady.length / REPOSITORIES));
    await atFixedRate(server.url, burst, 0, 100_000);
    const sent = nowMs();
    await receivers.waitFor(`${name}-`, (steady.length + burst.length) * FAN_OUT, 600_000);
    const drainedMs = Math.round(nowMs() - sent);
    await receivers.take();
    clearInterval(watch);
    const loadParts = {
      ...mappings(server.pid),
      "main JS heap (of V8 heap pages)": await mainHeapMb(server.url),
    };
    const after: Record<string, number> = {};
    let waited = 0;
    for (const seconds of [5, 30, 60]) {
      await sleep((seconds - waited) * 1000);
      waited = seconds;
      after[`+${seconds}s`] = rssMb(server.pid);
    }
    return {
      store: name,
      idle_mb: idle,
      idle_parts: idleParts,
      load_max_mb: most,
      drained_after_ms: drainedMs,
      drained_parts: loadParts,
      after_drained_mb: after,
      after_parts: {
        ...mappings(server.pid),
        "main JS heap (of V8 heap pages)": await mainHeapMb(server.url),
      },
    };
  } finally {
    await server.stop();
  }
}

const only = process.env.BENCH_PEERS?.split(",");
const wanted = (name: string) => !only || only.some((part) => name.includes(part));
const folder = mkdtempSync(join(tmpdir(), "envhooks-memory-"));
const receivers = await Receivers.start();
const admin =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/test";
try {
  if (wanted("PGlite")) {
    console.log(
      JSON.stringify(
        await measure("PGlite", { ENVHOOKS_DATA_DIR: join(folder, "data") }, receivers, folder),
        null,
        1,
      ),
    );
  }
  if (wanted("PostgreSQL")) {
    const database = await newDatabase(admin);
    try {
      console.log(
        JSON.stringify(
          await measure("PostgreSQL", { DATABASE_URL: database.url }, receivers, folder),
          null,
          1,
        ),
      );
    } finally {
      await database.drop();
    }
  }
} finally {
  receivers.stop();
  rmSync(folder, { recursive: true, force: true });
}
