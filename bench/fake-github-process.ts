// The fake GitHub API of `npm run bench`'s GitHub phases, in a process of its own (forked by
// bench/github-phases.ts) so that answering envhooks is not counted against the load generator.
// It is test/helpers/fake-github.ts answering after 100 ms ± 30 % (as GitHub does from most
// places) with GitHub's rate-limit headers. Each answered call is reported once over IPC, with
// the deployment it names (environment and ref) so the bench can tell what GitHub shows.
import { FakeGithub, type RecordedCall } from "../test/helpers/fake-github.ts";

export type AnsweredCall = Omit<RecordedCall, "body"> & {
  body?: { state?: string; context?: string; environment?: string; ref?: string; body?: string };
  /** For a deployment status: the deployment's environment and ref. */
  deployment?: { environment: string; ref: string };
};
export type FakeGithubMessage =
  | { type: "listening"; port: number; privateKey: string }
  | { type: "ok" }
  | { type: "calls"; calls: AnsweredCall[] }
  | { type: "budgets"; remaining: Record<number, number> }
  | {
      type: "runs";
      runs: Array<{ id: number; activity: string; environment: string; sha: string; html_url: string }>;
    };
export type FakeGithubRequest =
  | { type: "config"; repos: string[]; text: string }
  | { type: "calls" }
  | { type: "budgets"; installations: number[] }
  | { type: "runs" };

const github = await new FakeGithub({
  latencyMs: Number(process.env.BENCH_GITHUB_LATENCY_MS ?? 100),
  jitter: 0.3,
}).start();
const port = Number(new URL(github.baseUrl).port);
let reported = 0;

/** Calls answered since the last report, in the order they arrived (an unanswered one holds the rest back). */
function answered(): AnsweredCall[] {
  const calls: AnsweredCall[] = [];
  while (reported < github.calls.length && (github.calls[reported]?.status ?? 0) !== 0) {
    const { body, ...call } = github.calls[reported++] as RecordedCall;
    const id = /\/deployments\/(\d+)\/statuses$/.exec(call.path)?.[1];
    const deployment = id ? github.deployments.find((d) => d.id === Number(id)) : undefined;
    calls.push({
      ...call,
      ...(body
        ? {
            body: {
              state: body.state,
              context: body.context,
              environment: body.environment,
              ref: body.ref,
              body: body.body,
            },
          }
        : {}),
      ...(deployment ? { deployment: { environment: deployment.environment, ref: deployment.ref } } : {}),
    });
  }
  return calls;
}

process.on("message", (message: FakeGithubRequest) => {
  if (message.type === "config") {
    for (const repo of message.repos) github.configFiles.set(repo, message.text);
    process.send?.({ type: "ok" } satisfies FakeGithubMessage);
  }
  if (message.type === "calls")
    process.send?.({ type: "calls", calls: answered() } satisfies FakeGithubMessage);
  if (message.type === "budgets") {
    const remaining = Object.fromEntries(
      message.installations.map((id) => [id, github.rateLimitRemaining(id)]),
    );
    process.send?.({ type: "budgets", remaining } satisfies FakeGithubMessage);
  }
});
process.on("message", (message: FakeGithubRequest) => {
  if (message.type !== "runs") return;
  // The workflow runs started with workflow_dispatch, with the activity each was started for.
  const runs = github.workflowRuns.map((run) => ({
    id: run.id,
    activity: run.inputs.envhooks_activity ?? "",
    environment: run.inputs.environment ?? "",
    sha: run.inputs.sha ?? "",
    html_url: run.html_url,
  }));
  process.send?.({ type: "runs", runs } satisfies FakeGithubMessage);
});
process.on("disconnect", () => void github.stop().then(() => process.exit(0)));
process.send?.({ type: "listening", port, privateKey: github.privateKey } satisfies FakeGithubMessage);
