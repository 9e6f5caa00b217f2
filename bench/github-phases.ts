// The GitHub phases of `npm run bench`: envhooks as in production, with GitHub App credentials and
// Probot's own throttling (writes 1 s apart per installation, as GitHub asks), against a fake GitHub
// API in a process of its own (bench/fake-github-process.ts) that answers after 100 ms ± 30 % and
// sends GitHub's rate-limit headers. Each phase gets a new store, envhooks and fake GitHub, so no
// backlog of one phase slows the next:
// 1. one repository, 20 pushes/s to 6 branches for 10 s, one webhook integration: push → receiver
//    latency, config reads per push, GitHub calls per event, and when GitHub shows every branch;
// 2. one pull request opened, then pushed to 10 times 1 s apart (the branch's push, then
//    `synchronize`): writes for its environment, and the time from the last push until GitHub shows
//    its final state (commit status, deployment status and comment for the last commit);
// 3. 200 pushes/s over 50 repositories in 10 installations for 10 s: the time until every
//    environment's final state is on GitHub after the last push, writes and rate-limit budget per
//    installation;
// 4. `runner: github-actions`: a pull request opened, then pushed to 10 times 1 s apart: workflow
//    dispatches, cancels and GitHub writes, and the time from the last run's `completed` event until
//    GitHub shows its final state;
// 5. 10 repositories × 10 branches in 10 installations, 200 pushes/s with 5 webhook integrations
//    each on receivers at 50 ms: push → receiver p50 / p95 / p99 (production's shape of issue 26).
// What GitHub shows is read off the fake's calls, each stamped (Date.now()) when it was answered.
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { pullRequest, pushTo, pushToBranch, workflowRun } from "../test/fixtures/github-events.ts";
import {
  api,
  askChild,
  atFixedRate,
  type BenchStore,
  markdown,
  nowMs,
  percentile,
  type Receivers,
  type Running,
  type Signed,
  signed,
  sleep,
  start,
  stopWithin,
} from "./bench-helpers.ts";
import type { AnsweredCall, FakeGithubMessage, FakeGithubRequest } from "./fake-github-process.ts";
import { type Target, target } from "./targets.ts";

/** The longest wait for GitHub to show a phase's final state. */
const FINAL_WAIT_MS = Number(process.env.BENCH_GITHUB_WAIT_SECONDS ?? 120) * 1000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
export const CONFIG = [
  'environment_url: "https://{machine_name}.preview.example.com"',
  "github:",
  "  deployments: true",
  "  statuses: true",
  "  comments: true",
  "",
].join("\n");
const WRITES = new Set(["POST", "PATCH", "PUT", "DELETE"]);
const FINAL_STATES = new Set(["success", "failure", "error"]);

export interface Shown {
  /** From the last push until GitHub showed every final state; null: not within `waited_s`. */
  after_ms: number | null;
  environments: number;
  /** Environments whose final state GitHub showed. */
  shown: number;
  waited_s: number;
}

export interface GithubResult {
  peer: string;
  one_repository: {
    pushes: number;
    per_s: number;
    branches: number;
    delivered: number;
    refused: number;
    p50: number;
    p95: number;
    p99: number;
    config_reads: number;
    config_reads_per_push: number;
    reads_per_event: number;
    writes_per_event: number;
    final_state: Shown;
  };
  pull_request: {
    events: number;
    /** Writes for the pull request's environment (deployments, statuses, comment). */
    writes: number;
    /** Writes for the branch's own environment (its pushes). */
    other_writes: number;
    reads: number;
    final_state: Shown;
  };
  actions_runner: {
    events: number;
    /** workflow_dispatch calls, and the activities they were for (each once if none was sent twice). */
    dispatches: number;
    dispatched_activities: number;
    /** Runs of superseded activities cancelled. */
    cancels: number;
    /** Every GitHub write for the pull request (deployments, statuses, comment, dispatches, cancels). */
    writes: number;
    /** From the last run's `completed` event until GitHub showed its final state. */
    final_state: Shown;
  };
  many_installations: {
    pushes: number;
    per_s: number;
    /** Pushes envhooks did not accept (an answer of 300 or more, or none). */
    refused: number;
    repositories: number;
    installations: number;
    /** GitHub writes of each installation, in order. */
    writes_by_installation: number[];
    writes_per_installation_mean: number;
    writes_per_installation_max: number;
    reads_per_event: number;
    /** The most of one installation's hourly budget spent (x-ratelimit-used). */
    budget_used_max: number;
    budget_limit: number;
    rate_limited_answers: number;
    final_state: Shown;
  };
  ten_by_ten: {
    pushes: number;
    per_s: number;
    environments: number;
    fan_out: number;
    hold_ms: number;
    expected: number;
    delivered: number;
    refused: number;
    /** Push → the receiver reading the first attempt, ms; null: a delivery missing after 30 s. */
    p50: number | null;
    p95: number | null;
    p99: number | null;
    /** Calls the fake GitHub answered meanwhile. */
    github_calls: number;
  };
}

// --- the fake GitHub's process --------------------------------------------------------------------

export class FakeGithubProcess {
  private readonly child: ChildProcess;
  readonly port: number;
  readonly privateKey: string;
  /** Every call answered so far, as reported by the fake. */
  readonly calls: AnsweredCall[] = [];

  private constructor(child: ChildProcess, port: number, privateKey: string) {
    this.child = child;
    this.port = port;
    this.privateKey = privateKey;
  }

  static async start(): Promise<FakeGithubProcess> {
    const child = fork(new URL("./fake-github-process.ts", import.meta.url).pathname, { stdio: "inherit" });
    const listening = await new Promise<Extract<FakeGithubMessage, { type: "listening" }>>((resolve) =>
      child.once("message", (message: FakeGithubMessage) => {
        if (message.type === "listening") resolve(message);
      }),
    );
    return new FakeGithubProcess(child, listening.port, listening.privateKey);
  }

  private ask<T extends FakeGithubMessage["type"]>(question: FakeGithubRequest, answer: T) {
    return askChild<FakeGithubMessage, T>(this.child, question, answer);
  }

  async config(repos: string[], text: string): Promise<void> {
    await this.ask({ type: "config", repos, text }, "ok");
  }

  /** Adds the calls answered since the last update to `calls`. */
  async update(): Promise<AnsweredCall[]> {
    this.calls.push(...(await this.ask({ type: "calls" }, "calls")).calls);
    return this.calls;
  }

  /** The workflow runs started so far, with the activity and commit each was started for. */
  async runs(): Promise<Extract<FakeGithubMessage, { type: "runs" }>["runs"]> {
    return (await this.ask({ type: "runs" }, "runs")).runs;
  }

  async remaining(installations: number[]): Promise<Record<number, number>> {
    return (await this.ask({ type: "budgets", installations }, "budgets")).remaining;
  }

  stop(): void {
    this.child.disconnect();
  }
}

// --- what GitHub shows ----------------------------------------------------------------------------

/** An environment's final state: the last commit `sha` of `environment` in `repo`. */
interface Expected {
  repo: string;
  environment: string;
  sha: string;
  pullRequest?: number;
}

const isWrite = (call: AnsweredCall) => WRITES.has(call.method) && !call.path.endsWith("/access_tokens");
const isConfigRead = (call: AnsweredCall) => call.method === "GET" && call.path.includes("/contents/");

/** When the trailing run of `calls` (by time) that all satisfy `shows` began; undefined if the last does not. */
function shownSince(calls: AnsweredCall[], shows: (call: AnsweredCall) => boolean): number | undefined {
  const sorted = [...calls].sort((a, b) => a.at - b.at);
  let since: number | undefined;
  for (const call of sorted) since = shows(call) ? (since ?? call.at) : undefined;
  return since;
}

/** When GitHub began to show `expected` (commit status, deployment and, for a pull request, comment). */
function shownAt(calls: AnsweredCall[], expected: Expected): number | undefined {
  const prefix = `/api/v3/repos/${expected.repo}/`;
  const done = calls.filter(
    (call) => call.path.startsWith(prefix) && isWrite(call) && call.status >= 200 && call.status < 300,
  );
  const local = (call: AnsweredCall) => call.path.slice(prefix.length - 1);
  const status = shownSince(
    done
      .filter((call) => local(call) === `/statuses/${expected.sha}`)
      .filter((call) => call.body?.context === `envhooks/${expected.environment}`),
    (call) => FINAL_STATES.has(call.body?.state ?? ""),
  );
  const created = done.filter(
    (call) => local(call) === "/deployments" && call.body?.environment === expected.environment,
  );
  const lastCreated = created.sort((a, b) => a.at - b.at).at(-1);
  const deployment =
    lastCreated?.body?.ref === expected.sha
      ? shownSince(
          done.filter(
            (call) =>
              call.deployment?.environment === expected.environment && call.deployment.ref === expected.sha,
          ),
          (call) => FINAL_STATES.has(call.body?.state ?? ""),
        )
      : undefined;
  const facets = [status, deployment];
  if (expected.pullRequest !== undefined) {
    const comment = done.filter((call) =>
      new RegExp(`^/issues/(${expected.pullRequest}/comments|comments/\\d+)$`).test(local(call)),
    );
    facets.push(
      shownSince(
        comment,
        (call) =>
          (call.body?.body ?? "").includes(`\`${expected.sha.slice(0, 7)}\``) &&
          /Succeeded|Failed/.test(call.body?.body ?? ""),
      ),
    );
  }
  return facets.some((at) => at === undefined) ? undefined : Math.max(...(facets as number[]));
}

/**
 * Waits until GitHub shows every expected final state (or FINAL_WAIT_MS passed), then until no
 * write was answered for 3 s, so that the counts include what follows the final state.
 */
async function waitUntilShown(github: FakeGithubProcess, expected: Expected[], lastPushAt: number) {
  const deadline = Date.now() + FINAL_WAIT_MS;
  let times: Array<number | undefined> = [];
  for (;;) {
    const calls = await github.update();
    times = expected.map((e) => shownAt(calls, e));
    if (times.every((at) => at !== undefined) || Date.now() > deadline) break;
    await sleep(250);
  }
  for (;;) {
    const lastWrite = Math.max(0, ...github.calls.filter(isWrite).map((call) => call.at));
    if (Date.now() - lastWrite > 3000 || Date.now() > deadline) break;
    await sleep(250);
    await github.update();
  }
  const shown = times.filter((at): at is number => at !== undefined);
  const result: Shown = {
    after_ms: shown.length === expected.length ? Math.max(...shown) - lastPushAt : null,
    environments: expected.length,
    shown: shown.length,
    waited_s: FINAL_WAIT_MS / 1000,
  };
  if (result.after_ms === null)
    console.error(
      `  final state not reached within ${FINAL_WAIT_MS / 1000} s: ${expected.length - shown.length} of ${expected.length} environments`,
    );
  return result;
}

// --- phases ---------------------------------------------------------------------------------------

export interface Phase {
  server: Running;
  github: FakeGithubProcess;
}

/** A new store, fake GitHub and envhooks with App credentials; `run` measures; everything is removed after. */
export async function withEnvhooks<T>(
  store: BenchStore,
  envhooks: { script: string; env: Record<string, string> },
  logFile: string,
  run: (phase: Phase) => Promise<T>,
): Promise<T> {
  const github = await FakeGithubProcess.start();
  const opened = await store.open();
  try {
    const server = await start(
      {
        name: store.name,
        script: envhooks.script,
        envhooks: true,
        env: { ...envhooks.env, ...opened.env, ...appEnv(github) },
      },
      logFile,
    );
    try {
      return await run({ server, github });
    } finally {
      // A backlog of GitHub writes may hold a graceful stop: 10 s, then the process is killed.
      await stopWithin(server, 10_000);
    }
  } finally {
    github.stop();
    await opened.drop();
  }
}

/** What gives envhooks GitHub App credentials, with the fake GitHub `github` as its GitHub. */
export function appEnv(github: FakeGithubProcess): Record<string, string> {
  return {
    APP_ID: "1",
    PRIVATE_KEY: github.privateKey,
    GHE_HOST: `127.0.0.1:${github.port}`,
    GHE_PROTOCOL: "http",
    ENVHOOKS_PUBLIC_URL: "https://envhooks.bench.example.com",
  };
}

/** `payload` as sent for installation `id`. */
export function forInstallation<T extends object>(payload: T, id: number): T {
  return { ...payload, installation: { id, node_id: `MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u${id}` } };
}

const commit = (n: number, fill: string) => n.toString(16).padStart(40, fill);

/** Phase 1: one repository, 20 pushes/s to 6 branches for 10 s, one webhook integration. */
async function oneRepository({ server, github }: Phase, receivers: Receivers, prefix: string) {
  const rate = 20;
  const branches = Array.from({ length: 6 }, (_, n) => `feature-${n}`);
  const repo = "bench-gh/one";
  const installation = 11;
  const warmupRepo = "bench-gh-warmup/warmup";
  await github.config([repo, warmupRepo], CONFIG);
  await api(server.url, `/api/projects/${repo}/integrations`, {
    type: "webhook",
    url: `${receivers.url}/github`,
  });
  await api(server.url, `/api/projects/${warmupRepo}/integrations`, {
    type: "webhook",
    url: `${receivers.url}/github-warmup`,
  });
  // One second of pushes to another repository and installation first: a process just started runs cold.
  const warmup = Array.from({ length: rate }, (_, n) =>
    signed(`${prefix}-warm-${n}`, forInstallation(pushTo(warmupRepo, n), 10)),
  );
  await atFixedRate(server.url, warmup, 0, rate);
  await receivers.waitFor(`${prefix}-warm-`, warmup.length);

  const heads = new Map<string, string>();
  const pushed: Array<{ id: string; branch: string; after: string }> = [];
  const pushes: Signed[] = Array.from({ length: rate * SECONDS }, (_, n) => {
    const branch = branches[n % branches.length] ?? "";
    const fill = "abcdef"[branches.indexOf(branch)] ?? "a";
    const after = commit(n + 1, fill);
    const before = heads.get(branch) ?? commit(0, fill);
    heads.set(branch, after);
    pushed.push({ id: `${prefix}-one-${n}`, branch, after });
    const payload = forInstallation(pushToBranch(branch, { before, after }), installation);
    payload.repository = pushTo(repo, 0).repository;
    return signed(`${prefix}-one-${n}`, payload);
  });
  const sent = await atFixedRate(server.url, pushes, 0, rate);
  const lastPushAt = Date.now();
  // What GitHub should end up showing: each branch's last push that envhooks accepted.
  heads.clear();
  for (const push of pushed) if (!sent.refusedIds.has(push.id)) heads.set(push.branch, push.after);
  await receivers.waitFor(`${prefix}-one-`, pushes.length - sent.refused);
  const first = new Map<string, number>();
  for (const [id, , at] of await receivers.take()) if (!first.has(id)) first.set(id, at);
  const latencies = [...sent.sentAt].flatMap(([id, at]) => {
    const arrived = first.get(id);
    return arrived === undefined ? [] : [arrived - at];
  });
  const final_state = await waitUntilShown(
    github,
    [...heads].map(([branch, sha]) => ({ repo, environment: branch, sha })),
    lastPushAt,
  );
  const calls = github.calls.filter((call) => call.installationId === installation);
  const configReads = calls.filter(isConfigRead).length;
  return {
    pushes: pushes.length,
    per_s: rate,
    branches: branches.length,
    delivered: latencies.length,
    refused: sent.refused,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    config_reads: configReads,
    config_reads_per_push: round(configReads / pushes.length),
    reads_per_event: round(calls.filter((call) => !isWrite(call)).length / pushes.length),
    writes_per_event: round(calls.filter(isWrite).length / pushes.length),
    final_state,
  } satisfies GithubResult["one_repository"];
}

/** Phase 2: a pull request opened, then pushed to 10 times 1 s apart (push, then synchronize). */
async function onePullRequest({ server, github }: Phase, prefix: string) {
  const installation = 12;
  const opened = forInstallation(pullRequest("opened"), installation);
  const repo: string = opened.repository.full_name;
  const number: number = opened.pull_request.number;
  const branch: string = opened.pull_request.head.ref;
  const environment = `pr-${number}`;
  await github.config([repo], CONFIG);
  const send = async (delivery: Signed) => {
    await atFixedRate(server.url, [delivery], 0, 1);
  };
  await send(signed(`${prefix}-pr-opened`, opened, "pull_request"));
  let head: string = opened.pull_request.head.sha;
  let lastPushAt = Date.now();
  for (let n = 1; n <= 10; n++) {
    await sleep(1000);
    const after = commit(n, "d");
    const push = forInstallation(pushToBranch(branch, { before: head, after }), installation);
    const synchronize = forInstallation(pullRequest("synchronize"), installation);
    Object.assign(synchronize, { before: head, after });
    synchronize.pull_request.head.sha = after;
    lastPushAt = Date.now();
    await send(signed(`${prefix}-pr-push-${n}`, push));
    await send(signed(`${prefix}-pr-sync-${n}`, synchronize, "pull_request"));
    head = after;
  }
  const final_state = await waitUntilShown(
    github,
    [{ repo, environment, sha: head, pullRequest: number }],
    lastPushAt,
  );
  const calls = github.calls.filter((call) => call.installationId === installation);
  const forPullRequest = (call: AnsweredCall) =>
    call.body?.environment === environment ||
    call.body?.context === `envhooks/${environment}` ||
    call.deployment?.environment === environment ||
    /\/issues\/(\d+\/)?comments/.test(call.path);
  const writes = calls.filter(isWrite);
  return {
    events: 21,
    writes: writes.filter(forPullRequest).length,
    other_writes: writes.filter((call) => !forPullRequest(call)).length,
    reads: calls.length - writes.length,
    final_state,
  } satisfies GithubResult["pull_request"];
}

/**
 * Phase 4: `runner: github-actions`. A pull request opened, then pushed to 10 times 1 s apart; the
 * newest run goes in_progress and completes (its events sent as GitHub would) once envhooks has
 * started it. Superseded activities' runs are cancelled, and one superseded before its turn is
 * never dispatched.
 */
async function actionsRunner({ server, github }: Phase, prefix: string) {
  const installation = 13;
  const opened = forInstallation(pullRequest("opened"), installation);
  const repo: string = opened.repository.full_name;
  const number: number = opened.pull_request.number;
  const branch: string = opened.pull_request.head.ref;
  const environment = `pr-${number}`;
  await github.config([repo], `${CONFIG}runner: github-actions\ngithub_actions:\n  workflow: preview.yml\n`);
  const send = async (delivery: Signed) => {
    await atFixedRate(server.url, [delivery], 0, 1);
  };
  await send(signed(`${prefix}-actions-opened`, opened, "pull_request"));
  let head: string = opened.pull_request.head.sha;
  for (let n = 1; n <= 10; n++) {
    await sleep(1000);
    const after = commit(n, "e");
    const push = forInstallation(pushToBranch(branch, { before: head, after }), installation);
    const synchronize = forInstallation(pullRequest("synchronize"), installation);
    Object.assign(synchronize, { before: head, after });
    synchronize.pull_request.head.sha = after;
    await send(signed(`${prefix}-actions-push-${n}`, push));
    await send(signed(`${prefix}-actions-sync-${n}`, synchronize, "pull_request"));
    head = after;
  }
  // The newest activity's run, once envhooks has started it.
  const deadline = Date.now() + FINAL_WAIT_MS;
  let run: Awaited<ReturnType<FakeGithubProcess["runs"]>>[number] | undefined;
  while (!run && Date.now() < deadline) {
    run = (await github.runs()).find((r) => r.sha === head && r.environment === environment);
    if (!run) await sleep(100);
  }
  if (!run) throw new Error("envhooks never dispatched the newest activity's workflow");
  // A real run takes a while between its events: each is sent once GitHub shows the state before it
  // (the deployment's queued, then in_progress), so that what is timed is the completed event's own way.
  const shows = async (state: string) => {
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const calls = await github.update();
      const shown = calls.some(
        (call) =>
          call.deployment?.environment === environment &&
          call.deployment.ref === head &&
          call.body?.state === state,
      );
      if (shown) return;
      await sleep(100);
    }
  };
  await shows("queued");
  await send(
    signed(
      `${prefix}-actions-run`,
      forInstallation(workflowRun("in_progress", run), installation),
      "workflow_run",
    ),
  );
  await shows("in_progress");
  const completedAt = Date.now();
  await send(
    signed(
      `${prefix}-actions-done`,
      forInstallation(workflowRun("completed", { ...run, conclusion: "success" }), installation),
      "workflow_run",
    ),
  );
  const final_state = await waitUntilShown(
    github,
    [{ repo, environment, sha: head, pullRequest: number }],
    completedAt,
  );
  const runs = await github.runs();
  const calls = github.calls.filter((call) => call.installationId === installation);
  const forPullRequest = (call: AnsweredCall) =>
    call.body?.environment === environment ||
    call.body?.context === `envhooks/${environment}` ||
    call.deployment?.environment === environment ||
    /\/issues\/(\d+\/)?comments|\/actions\//.test(call.path);
  return {
    events: 23,
    dispatches: calls.filter((call) => call.method === "POST" && call.path.endsWith("/dispatches")).length,
    dispatched_activities: new Set(runs.map((r) => r.activity)).size,
    cancels: calls.filter((call) => call.method === "POST" && call.path.endsWith("/cancel")).length,
    writes: calls.filter(isWrite).filter(forPullRequest).length,
    final_state,
  } satisfies GithubResult["actions_runner"];
}

/** Phase 3: 200 pushes/s over 50 repositories in 10 installations (5 each) for 10 s, to their default branch. */
async function manyInstallations({ server, github }: Phase, prefix: string) {
  const rate = 200;
  const installations = Array.from({ length: 10 }, (_, k) => 201 + k);
  const repos = installations.flatMap((id) =>
    Array.from({ length: 5 }, (_, j) => ({ repo: `bench-org-${id}/repo-${j}`, installation: id })),
  );
  await github.config(
    repos.map((r) => r.repo),
    CONFIG,
  );
  const pushed: Array<{ id: string; repo: string; after: string }> = [];
  const pushes = Array.from({ length: rate * SECONDS }, (_, n) => {
    const { repo, installation } = repos[n % repos.length] ?? { repo: "", installation: 0 };
    const payload = forInstallation(pushTo(repo, Math.floor(n / repos.length)), installation);
    pushed.push({ id: `${prefix}-many-${n}`, repo, after: payload.after });
    return signed(`${prefix}-many-${n}`, payload);
  });
  const sent = await atFixedRate(server.url, pushes, 0, rate);
  const lastPushAt = Date.now();
  if (sent.refused) console.error(`  ${sent.refused} pushes refused`);
  // What GitHub should end up showing: each repository's last push that envhooks accepted.
  const heads = new Map<string, string>();
  for (const push of pushed) if (!sent.refusedIds.has(push.id)) heads.set(push.repo, push.after);
  const environment: string = pushTo("a/b", 0).repository.default_branch;
  const final_state = await waitUntilShown(
    github,
    [...heads].map(([repo, sha]) => ({ repo, environment, sha })),
    lastPushAt,
  );
  const writes = installations.map(
    (id) => github.calls.filter((call) => call.installationId === id && isWrite(call)).length,
  );
  const reads = github.calls.filter((call) => call.installationId !== null && !isWrite(call)).length;
  const remaining = await github.remaining(installations);
  const limit = 5000;
  return {
    pushes: pushes.length,
    per_s: rate,
    refused: sent.refused,
    repositories: repos.length,
    installations: installations.length,
    writes_by_installation: writes,
    writes_per_installation_mean: round(writes.reduce((a, b) => a + b, 0) / writes.length),
    writes_per_installation_max: Math.max(...writes),
    reads_per_event: round(reads / pushes.length),
    budget_used_max: limit - Math.min(...Object.values(remaining)),
    budget_limit: limit,
    rate_limited_answers: github.calls.filter((call) => call.status === 403 || call.status === 429).length,
    final_state,
  } satisfies GithubResult["many_installations"];
}

const round = (value: number) => Math.round(value * 100) / 100;

/**
 * Phase 5: 10 repositories × 10 branches (100 environments) in 10 installations, 200 pushes/s for
 * BENCH_SECONDS after 2 s not measured, each repository with 5 webhook integrations on receivers
 * that answer in 50 ms: push → receiver (the first attempt read) p50 / p95 / p99, GitHub's work
 * (config reads, deployments and statuses) going on beside it. Deliveries still missing 30 s after
 * the last push count as the slowest.
 */
async function tenByTen({ server, github }: Phase, receivers: Receivers, prefix: string) {
  const rate = 200;
  const fanOut = 5;
  const repos = Array.from({ length: 10 }, (_, n) => `bench-gh-ten/repo-${n}`);
  const branches = Array.from({ length: 10 }, (_, n) => `feature-${n}`);
  for (const repo of repos) {
    for (let i = 0; i < fanOut; i++) {
      await api(server.url, `/api/projects/${repo}/integrations`, {
        type: "webhook",
        url: `${receivers.urls[i] ?? receivers.url}/hold/50/ten-${i}`,
      });
    }
  }
  const warmup = rate * 2;
  const heads = new Map<string, string>();
  const pushes = Array.from({ length: warmup + rate * SECONDS }, (_, n) => {
    const r = n % repos.length;
    const b = Math.floor(n / repos.length) % branches.length;
    const key = `${r} ${b}`;
    const fill = (r * 10 + b).toString(16).padStart(2, "0");
    const after = `${fill}${(n + 1).toString(16).padStart(38, "0")}`;
    const before = heads.get(key) ?? `${fill}${"0".repeat(38)}`;
    heads.set(key, after);
    const payload = forInstallation(pushToBranch(branches[b] ?? "", { before, after }), 30 + r);
    payload.repository = pushTo(repos[r] ?? "", 0).repository;
    return signed(`${prefix}-ten-${n}`, payload);
  });
  const sent = await atFixedRate(server.url, pushes, warmup, rate);
  await receivers.waitFor(`${prefix}-ten-`, (pushes.length - sent.refused) * fanOut, 30_000);
  const first = new Map<string, { delivery: string; at: number }>();
  for (const [delivery, , at, , webhookId] of await receivers.take()) {
    if (!sent.sentAt.has(delivery)) continue;
    const seen = first.get(webhookId);
    if (!seen || at < seen.at) first.set(webhookId, { delivery, at });
  }
  const latencies = [...first.values()].map(({ delivery, at }) => at - (sent.sentAt.get(delivery) ?? 0));
  const expected =
    (sent.sentAt.size - [...sent.refusedIds].filter((id) => sent.sentAt.has(id)).length) * fanOut;
  const all = [
    ...latencies,
    ...Array.from({ length: Math.max(0, expected - latencies.length) }, () => Infinity),
  ];
  const quantile = (p: number) => {
    const value = percentile(all, p);
    return Number.isFinite(value) ? value : null;
  };
  await github.update();
  return {
    pushes: sent.sentAt.size,
    per_s: rate,
    environments: repos.length * branches.length,
    fan_out: fanOut,
    hold_ms: 50,
    expected,
    delivered: latencies.length,
    refused: sent.refused,
    p50: quantile(50),
    p95: quantile(95),
    p99: quantile(99),
    github_calls: github.calls.length,
  } satisfies GithubResult["ten_by_ten"];
}

/** The three GitHub phases on one store. */
export async function measureGithub(
  store: BenchStore,
  envhooks: { script: string; env: Record<string, string> },
  receivers: Receivers,
  folder: string,
): Promise<GithubResult> {
  const logFile = join(folder, `${store.name.replace(/\W+/g, "-")}-github.log`);
  const prefix = `${store.name.replace(/\W+/g, "-")}-gh-${randomBytes(3).toString("hex")}`;
  const phase = <T>(name: string, run: (phase: Phase) => Promise<T>) => {
    console.error(`  GitHub in the loop: ${name}…`);
    const began = nowMs();
    return withEnvhooks(store, envhooks, logFile, run).finally(() =>
      console.error(`  (${Math.round((nowMs() - began) / 1000)} s)`),
    );
  };
  return {
    peer: store.name,
    one_repository: await phase("one repository, 20 pushes/s", (p) => oneRepository(p, receivers, prefix)),
    pull_request: await phase("a pull request pushed to 10 times", (p) => onePullRequest(p, prefix)),
    many_installations: await phase("50 repositories in 10 installations, 200 pushes/s", (p) =>
      manyInstallations(p, prefix),
    ),
    actions_runner: await phase("runner: github-actions, a pull request pushed to 10 times", (p) =>
      actionsRunner(p, prefix),
    ),
    ten_by_ten: await measureTenByTen(store, envhooks, receivers, folder),
  };
}

/** Phase 5 alone (`npm run bench` runs it with the others; a quick check can run just it). */
export async function measureTenByTen(
  store: BenchStore,
  envhooks: { script: string; env: Record<string, string> },
  receivers: Receivers,
  folder: string,
): Promise<GithubResult["ten_by_ten"]> {
  const logFile = join(folder, `${store.name.replace(/\W+/g, "-")}-github.log`);
  const prefix = `${store.name.replace(/\W+/g, "-")}-gh-${randomBytes(3).toString("hex")}`;
  console.error(
    "  GitHub in the loop: 10 repositories × 10 branches, 200 pushes/s × fan-out 5, receivers at 50 ms…",
  );
  const began = nowMs();
  try {
    return await withEnvhooks(store, envhooks, logFile, (p) => tenByTen(p, receivers, prefix));
  } finally {
    console.error(`  (${Math.round((nowMs() - began) / 1000)} s)`);
  }
}

// --- report ---------------------------------------------------------------------------------------

const seconds = (shown: Shown) =>
  shown.after_ms === null
    ? `not reached within ${shown.waited_s} s (${shown.shown}/${shown.environments})`
    : `${round(shown.after_ms / 1000)} s`;

/** The "GitHub in the loop" table, one column per store. */
export function githubTable(results: GithubResult[]): string {
  const rows: Array<[string, (r: GithubResult) => string]> = [
    [
      "20 pushes/s to 6 branches of one repository: push → receiver p50 / p95 / p99, ms",
      (r) =>
        `${r.one_repository.p50} / ${r.one_repository.p95} / ${r.one_repository.p99} (${r.one_repository.delivered}/${r.one_repository.pushes})`,
    ],
    [
      "… config reads per push",
      (r) => `${r.one_repository.config_reads_per_push} (${r.one_repository.config_reads})`,
    ],
    [
      "… GitHub calls per event: reads / writes",
      (r) => `${r.one_repository.reads_per_event} / ${r.one_repository.writes_per_event}`,
    ],
    [
      "… every branch's final state on GitHub after the last push",
      (r) => seconds(r.one_repository.final_state),
    ],
    [
      "a pull request opened and pushed to 10 times: GitHub writes for its environment (for the branch's)",
      (r) => `${r.pull_request.writes} (${r.pull_request.other_writes})`,
    ],
    ["… its final state on GitHub after the last push", (r) => seconds(r.pull_request.final_state)],
    [
      "200 pushes/s over 50 repositories in 10 installations: every final state on GitHub after the last push",
      (r) =>
        `${seconds(r.many_installations.final_state)}${r.many_installations.refused ? `; ${r.many_installations.refused} pushes refused` : ""}`,
    ],
    [
      "… writes per installation, mean / max",
      (r) =>
        `${r.many_installations.writes_per_installation_mean} / ${r.many_installations.writes_per_installation_max}`,
    ],
    [
      "runner: github-actions, a pull request pushed to 10 times: dispatches (activities) / cancels / writes",
      (r) =>
        `${r.actions_runner.dispatches} (${r.actions_runner.dispatched_activities}) / ${r.actions_runner.cancels} / ${r.actions_runner.writes}`,
    ],
    [
      "… its final state on GitHub after the run's completed event",
      (r) => seconds(r.actions_runner.final_state),
    ],
    [
      "… rate-limit budget used by the busiest installation; 403/429 answers",
      (r) =>
        `${r.many_installations.budget_used_max} of ${r.many_installations.budget_limit}; ${r.many_installations.rate_limited_answers}`,
    ],
    [
      "10 repositories × 10 branches, 200 pushes/s × fan-out 5, receivers at 50 ms: push → receiver p50 / p95 / p99, ms",
      (r) => {
        const t = r.ten_by_ten;
        const q = (value: number | null) => (value === null ? "> 30 s" : String(value));
        return `${q(t.p50)} / ${q(t.p95)} / ${q(t.p99)} (${t.delivered}/${t.expected}${t.refused ? `; ${t.refused} pushes refused` : ""})`;
      },
    ],
  ];
  return markdown(
    ["GitHub in the loop (API at 100 ms ± 30 %)", ...results.map((r) => r.peer)],
    rows.map(([label, cell]) => [label, ...results.map(cell)]),
  );
}

/** The targets for the GitHub phases. */
export function evaluateGithub(results: GithubResult[]): Target[] {
  return results.flatMap((r) => {
    const store = r.peer;
    const pr = r.pull_request;
    const many = r.many_installations.final_state;
    const actions = r.actions_runner;
    return [
      target(
        "githubP95",
        store,
        `${r.one_repository.p95} ms`,
        r.one_repository.p95 <= 250 && r.one_repository.delivered === r.one_repository.pushes,
      ),
      target(
        "configReads",
        store,
        String(r.one_repository.config_reads_per_push),
        r.one_repository.config_reads_per_push <= 0.1,
      ),
      target("pullRequestWrites", store, String(pr.writes), pr.writes <= 15),
      target(
        "pullRequestShown",
        store,
        seconds(pr.final_state),
        pr.final_state.after_ms !== null && pr.final_state.after_ms <= 10_000,
      ),
      target("manyShown", store, seconds(many), many.after_ms !== null && many.after_ms <= 30_000),
      target(
        "actionsShown",
        store,
        `${seconds(actions.final_state)}; ${actions.dispatches} dispatches for ${actions.dispatched_activities} activities`,
        actions.final_state.after_ms !== null &&
          actions.final_state.after_ms <= 2_000 &&
          actions.dispatches === actions.dispatched_activities,
      ),
    ];
  });
}
