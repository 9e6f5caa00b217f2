// What bench/run.ts and bench/github-phases.ts share: signed GitHub deliveries, the peers' and the
// receivers' child processes, an open-loop sender, percentiles and a database per measure.
import { type ChildProcess, fork, spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { openSync } from "node:fs";
import { createServer } from "node:net";
import pg from "pg";
import { build, RUNTIME_FLAGS } from "../scripts/build.ts";
import type { Arrival, BenchMessage, ReceiverMessage } from "./receivers.ts";

export const SECRET = "bench-secret";
/** envhooks refuses API tokens shorter than 32 characters. */
export const TOKEN = "bench-api-token-that-is-long-enough-0123456789";
export const DRAIN_TIMEOUT_MS = 60_000;

export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Signed {
  id: string;
  /** The GitHub event name; `push` when unset. */
  event?: string;
  body: string;
  signature: string;
}

/** A GitHub delivery of `payload`, signed as GitHub signs it. */
export function signed(id: string, payload: unknown, event = "push"): Signed {
  const body = JSON.stringify(payload);
  const signature = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
  return { id, event, body, signature };
}

export function githubHeaders(delivery: Signed): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-github-event": delivery.event ?? "push",
    "x-github-delivery": delivery.id,
    "x-hub-signature-256": delivery.signature,
  };
}

// --- processes -----------------------------------------------------------------------------------

export interface Peer {
  name: string;
  script: string;
  env: Record<string, string>;
  envhooks: boolean;
  /** Applies and relays what it stores (envhooks, but not in the web role): the delivery phases run. */
  relays?: boolean;
}

/** A new store for one phase: the environment variables that select it, and how to remove it. */
export interface BenchStore {
  name: string;
  open(): Promise<{ env: Record<string, string>; drop(): Promise<void> }>;
}

export interface Running {
  url: string;
  pid: number;
  readyMs: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** envhooks as `npm start` runs it: src/ built into dist/ (scripts/build.ts); the script to start. */
export function buildEnvhooks(): string {
  build();
  return new URL("../dist/main.js", import.meta.url).pathname;
}

export async function start(peer: Peer, logFile: string): Promise<Running> {
  const port = await freePort();
  const log = openSync(logFile, "a");
  const begun = nowMs();
  // envhooks with Node's flags as `npm start` and the image pass them; BENCH_NODE_ARGS after them
  // (the last of a flag wins: --heap-growing-percent=0 measures without it).
  const nodeArgs = [
    ...(peer.envhooks ? RUNTIME_FLAGS : []),
    ...(process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
  ];
  const child = spawn(process.execPath, [...nodeArgs, peer.script], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      // glibc's malloc arenas as the image sets them: MALLOC_ARENA_MAX=2 npm run bench (or bench:memory).
      ...(process.env.MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX } : {}),
      ...peer.env,
    },
    stdio: ["ignore", log, log],
  });
  let exited: number | null = null;
  child.once("exit", (code) => {
    exited = code ?? -1;
  });
  const url = `http://127.0.0.1:${port}`;
  const readyPath = peer.envhooks ? "/readyz" : "/";
  for (;;) {
    if (exited !== null) throw new Error(`${peer.name} exited ${exited}: see ${logFile}`);
    const status = await fetch(url + readyPath).then(
      (response) => response.status,
      () => 0,
    );
    if (peer.envhooks ? status === 200 : status > 0) break;
    await sleep(5);
  }
  return {
    url,
    pid: child.pid ?? 0,
    readyMs: Math.round(nowMs() - begun),
    stop: () => stopChild(child),
  };
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** Stops a server gracefully, or kills it after `ms` (a backlog may hold a graceful stop). */
export async function stopWithin(server: Running, ms: number): Promise<void> {
  // BENCH_STOP_MS: longer, so that a profiled peer (BENCH_NODE_ARGS=--cpu-prof) exits by itself.
  await Promise.race([server.stop(), sleep(Number(process.env.BENCH_STOP_MS ?? ms))]);
  try {
    process.kill(server.pid, "SIGKILL");
  } catch {}
}

/** Sends a child process `question` over IPC and resolves with its first message of type `answer`. */
export function askChild<M extends { type: string }, T extends M["type"]>(
  child: ChildProcess,
  question: unknown,
  answer: T,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve) => {
    const listen = (message: M) => {
      if (message.type !== answer) return;
      child.off("message", listen);
      resolve(message as Extract<M, { type: T }>);
    };
    child.on("message", listen);
    child.send(question as object);
  });
}

export class Receivers {
  private readonly child: ChildProcess;
  /** The receivers' origins, one port each (envhooks pools connections per origin). */
  readonly urls: string[];
  /** The first origin, which the loopback and GitHub phases share. */
  readonly url: string;

  private constructor(child: ChildProcess, urls: string[]) {
    this.child = child;
    this.urls = urls;
    this.url = urls[0] ?? "";
  }

  static async start(): Promise<Receivers> {
    const child = fork(new URL("./receivers.ts", import.meta.url).pathname, { stdio: "inherit" });
    const ports = await new Promise<number[]>((resolve) =>
      child.once("message", (message: ReceiverMessage) => {
        if (message.type === "listening") resolve(message.ports);
      }),
    );
    return new Receivers(
      child,
      ports.map((port) => `http://127.0.0.1:${port}`),
    );
  }

  private ask<T extends ReceiverMessage["type"]>(question: BenchMessage, answer: T) {
    return askChild<ReceiverMessage, T>(this.child, question, answer);
  }

  /** Distinct deliveries held for pushes whose ids start with `prefix`. */
  async count(prefix: string): Promise<number> {
    return (await this.ask({ type: "count", prefix }, "count")).count;
  }

  /** Every arrival since the last take. */
  async take(): Promise<Arrival[]> {
    return (await this.ask({ type: "take" }, "arrivals")).arrivals;
  }

  /** Waits until `count` distinct deliveries for pushes with this id prefix are held, or `timeoutMs` passed. */
  async waitFor(prefix: string, count: number, timeoutMs = DRAIN_TIMEOUT_MS): Promise<void> {
    const deadline = nowMs() + timeoutMs;
    let held = await this.count(prefix);
    while (held < count && nowMs() < deadline) {
      await sleep(20);
      held = await this.count(prefix);
    }
    if (held < count)
      console.error(
        `  ${count - held} of ${count} deliveries (${prefix}) not received after ${timeoutMs / 1000} s`,
      );
  }

  stop(): void {
    this.child.disconnect();
  }
}

// --- load and measures ---------------------------------------------------------------------------

export interface FixedRate {
  /** When each measured delivery left (nowMs), by its GitHub delivery id. */
  sentAt: Map<string, number>;
  acks: number[];
  refused: number;
  /** The deliveries refused (an answer of 300 or more) or not answered. */
  refusedIds: Set<string>;
}

/** Open loop: deliveries leave on schedule, `rate` a second, whether or not earlier ones were answered. */
export async function atFixedRate(
  url: string,
  deliveries: Signed[],
  measuredFrom: number,
  rate: number,
): Promise<FixedRate> {
  const sentAt = new Map<string, number>();
  const acks: number[] = [];
  const refusedIds = new Set<string>();
  const answers: Array<Promise<void>> = [];
  const begin = nowMs();
  for (const [n, delivery] of deliveries.entries()) {
    const wait = begin + (n * 1000) / rate - nowMs();
    if (wait > 0) await sleep(wait);
    const at = nowMs();
    const measured = n >= measuredFrom;
    if (measured) sentAt.set(delivery.id, at);
    answers.push(
      fetch(`${url}/api/github/webhooks`, {
        method: "POST",
        body: delivery.body,
        headers: githubHeaders(delivery),
      }).then(
        async (response) => {
          if (measured) acks.push(nowMs() - at);
          if (response.status >= 300) refusedIds.add(delivery.id);
          await response.arrayBuffer();
        },
        () => {
          refusedIds.add(delivery.id);
        },
      ),
    );
  }
  await Promise.all(answers);
  return { sentAt, acks, refused: refusedIds.size, refusedIds };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const value = sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  return value === undefined ? Number.NaN : Math.round(value * 10) / 10;
}

export async function api(url: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status !== 201) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
}

/** A database of its own on the server at `admin`, dropped by the returned function. */
export async function newDatabase(
  admin: string,
): Promise<{ url: string; drop(): Promise<void>; keep(): Promise<void> }> {
  const name = `envhooks_bench_${randomBytes(4).toString("hex")}`;
  const client = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 3000 });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
    /** Leaves the database for a look afterwards (BENCH_KEEP), and lets the bench exit. */
    async keep() {
      console.error(`kept database ${name}`);
      await client.end();
    },
  };
}

export function markdown(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}
