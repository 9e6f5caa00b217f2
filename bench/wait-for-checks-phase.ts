// The wait_for_checks phase of `npm run bench` (issue 25), GitHub in the loop as in
// bench/github-phases.ts: 100 pushes over 20 branches of one repository with `wait_for_checks: all`,
// 5 a second (a branch's next push 4 s after its last), each commit's checks (a run created, then
// completed, then its suite completed: the deciding event) arriving 0.5–5 s after its push. What is
// measured: the GitHub calls per push beyond the first read of the commit's checks (target: none;
// nothing polls), and the time from the deciding check event leaving until the activity completed
// (its `completed_at`, on the same machine's clock), p95 (target: ≤ 200 ms).
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { checkRun, checkSuite } from "../test/fixtures/check-events.ts";
import { pushToBranch } from "../test/fixtures/github-events.ts";
import { atFixedRate, type BenchStore, markdown, percentile, signed, sleep, TOKEN } from "./bench-helpers.ts";
import { CONFIG, forInstallation, type Phase, withEnvhooks } from "./github-phases.ts";
import { type Target, target } from "./targets.ts";

const PUSHES = 100;
const BRANCHES = 20;
const PER_SECOND = 5;
const INSTALLATION = 17;
/** The calls that read a commit's checks: check suites, check runs, combined status. */
const CHECK_READ = /\/commits\/[0-9a-f]{40}\/(check-suites|check-runs|status)$/;
const READS_PER_COMMIT = 3;

export interface WaitForChecksResult {
  peer: string;
  pushes: number;
  /** Activities that proceeded on their checks (the others a newer push superseded first). */
  proceeded: number;
  superseded: number;
  still_waiting: number;
  check_reads: number;
  /** GitHub calls per push beyond the first read (3 calls) of each commit's checks. */
  calls_beyond_first_read_per_push: number;
  p50: number;
  p95: number;
  max: number;
}

/** The phase, on a new store, fake GitHub and envhooks of its own. */
export async function measureWaitForChecks(
  store: BenchStore,
  envhooks: { script: string; env: Record<string, string> },
  folder: string,
): Promise<WaitForChecksResult> {
  const logFile = join(folder, `${store.name.replace(/\W+/g, "-")}-wait-for-checks.log`);
  const prefix = `${store.name.replace(/\W+/g, "-")}-checks-${randomBytes(3).toString("hex")}`;
  console.error("  GitHub in the loop: wait_for_checks, 100 pushes over 20 branches…");
  return withEnvhooks(store, envhooks, logFile, (phase) => waitForChecks(phase, store.name, prefix));
}

async function waitForChecks({ server, github }: Phase, peer: string, prefix: string) {
  const repo = "Codertocat/Hello-World";
  await github.config([repo], `${CONFIG}wait_for_checks: all\n`);
  const send = (id: string, payload: unknown, event: string) =>
    atFixedRate(server.url, [signed(`${prefix}-${id}`, payload, event)], 0, 1);
  /** When each commit's deciding event left (Date.now(), comparable with completed_at). */
  const decidedAt = new Map<string, number>();
  const heads = new Map<string, string>();
  const checks: Array<Promise<void>> = [];
  const began = Date.now();
  for (let n = 0; n < PUSHES; n++) {
    const wait = began + (n * 1000) / PER_SECOND - Date.now();
    if (wait > 0) await sleep(wait);
    const branch = `checks-${n % BRANCHES}`;
    const sha = n.toString(16).padStart(40, "d");
    const before = heads.get(branch) ?? "0".repeat(40);
    heads.set(branch, sha);
    await send(
      `push-${n}`,
      forInstallation(pushToBranch(branch, { before, after: sha }), INSTALLATION),
      "push",
    );
    const delay = 500 + Math.random() * 4500;
    const suiteId = 10_000 + n;
    checks.push(
      (async () => {
        // Half the delay to the run's start, the rest to its end; its suite's completion decides.
        await sleep(delay / 2);
        const run = { id: 20_000 + n, sha, name: "test", suiteId };
        await send(`run-created-${n}`, forInstallation(checkRun("created", run), INSTALLATION), "check_run");
        await sleep(delay / 2);
        await send(`run-done-${n}`, forInstallation(checkRun("completed", run), INSTALLATION), "check_run");
        decidedAt.set(sha, Date.now());
        await send(
          `suite-${n}`,
          forInstallation(checkSuite("completed", { id: suiteId, sha }), INSTALLATION),
          "check_suite",
        );
      })(),
    );
  }
  await Promise.all(checks);
  // Every activity settled (proceeded, or superseded by a newer push).
  let activities: Activity[] = [];
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    activities = await allActivities(server.url, repo);
    if (activities.length >= PUSHES && activities.every((a) => a.state !== "pending")) break;
    await sleep(250);
  }
  await sleep(2000);
  const calls = await github.update();
  const latencies: number[] = [];
  for (const activity of activities) {
    const sha = activity.parameters.new_commit;
    const sent = sha ? decidedAt.get(sha) : undefined;
    if (activity.state === "complete" && activity.completed_at && sent !== undefined) {
      latencies.push(Math.max(0, new Date(activity.completed_at).getTime() - sent));
    }
  }
  const checkReads = calls.filter((call) => call.method === "GET" && CHECK_READ.test(call.path)).length;
  const readCommits = new Set(
    calls
      .filter((call) => CHECK_READ.test(call.path))
      .map((call) => /\/commits\/([0-9a-f]{40})\//.exec(call.path)?.[1]),
  ).size;
  const result: WaitForChecksResult = {
    peer,
    pushes: PUSHES,
    proceeded: latencies.length,
    superseded: activities.filter((a) => a.state === "cancelled").length,
    still_waiting: activities.filter((a) => a.state === "pending").length,
    check_reads: checkReads,
    calls_beyond_first_read_per_push: round((checkReads - READS_PER_COMMIT * readCommits) / PUSHES),
    p50: round(percentile(latencies, 50)),
    p95: round(percentile(latencies, 95)),
    max: round(Math.max(0, ...latencies)),
  };
  return result;
}

interface Activity {
  state: string;
  completed_at: string | null;
  parameters: { new_commit: string | null };
}

async function allActivities(url: string, repo: string): Promise<Activity[]> {
  const all: Activity[] = [];
  let cursor: string | undefined;
  for (;;) {
    const response = await fetch(
      `${url}/api/projects/${repo}/activities?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
      { headers: { authorization: `Bearer ${TOKEN}` } },
    );
    const page = (await response.json()) as { items: Activity[]; next?: string | number | null };
    all.push(...page.items);
    if (!page.next || page.items.length === 0) return all;
    cursor = String(page.next);
  }
}

const round = (value: number) => Math.round(value * 10) / 10;

export function waitForChecksTable(results: WaitForChecksResult[]): string {
  const rows: Array<[string, (r: WaitForChecksResult) => string]> = [
    [
      "wait_for_checks: all, 100 pushes over 20 branches: proceeded / superseded / still waiting",
      (r) => `${r.proceeded} / ${r.superseded} / ${r.still_waiting}`,
    ],
    [
      "… GitHub calls per push beyond the first read (check reads in all)",
      (r) => `${r.calls_beyond_first_read_per_push} (${r.check_reads})`,
    ],
    [
      "… deciding check event → activity proceeds, p50 / p95 / max, ms",
      (r) => `${r.p50} / ${r.p95} / ${r.max}`,
    ],
  ];
  return markdown(
    ["wait_for_checks (API at 100 ms ± 30 %)", ...results.map((r) => r.peer)],
    rows.map(([label, cell]) => [label, ...results.map(cell)]),
  );
}

export function evaluateWaitForChecks(results: WaitForChecksResult[]): Target[] {
  return results.flatMap((r) => [
    target(
      "checksCalls",
      r.peer,
      String(r.calls_beyond_first_read_per_push),
      r.calls_beyond_first_read_per_push <= 0,
    ),
    target("checksP95", r.peer, `${r.p95} ms (${r.proceeded} activities)`, r.proceeded > 0 && r.p95 <= 200),
  ]);
}
