import type { ChangedFiles } from "./match-paths.ts";

/**
 * The parts of GitHub's webhook payloads the lifecycle rules read. Narrow on purpose: the rules
 * depend on these fields only, and tests can build events without GitHub's full shapes.
 * https://docs.github.com/en/webhooks/webhook-events-and-payloads
 */
export interface GithubUser {
  id: number;
  login: string;
}

export interface GithubRepository {
  /** GitHub's repository id (always sent by GitHub; missing only in hand-made deliveries). */
  id?: number;
  full_name: string;
  default_branch: string;
  html_url?: string;
}

export interface PushCommit {
  id: string;
  message: string;
  author: { name: string; email?: string | null };
  /** The files the commit added, modified and removed (a push's commits list them; GitHub's API does not). */
  added?: string[];
  modified?: string[];
  removed?: string[];
}

export interface PushPayload {
  ref: string;
  before: string;
  after: string;
  created: boolean;
  deleted: boolean;
  /** A force push: `before` may not be an ancestor of `after`. */
  forced?: boolean;
  commits: PushCommit[];
  compare?: string;
  repository: GithubRepository;
  sender: GithubUser;
}

export interface RefPayload {
  ref: string;
  ref_type: "branch" | "tag";
  repository: GithubRepository;
  sender: GithubUser;
}

export interface PullRequestPayload {
  action: string;
  number: number;
  /** Present on `synchronize`: the head before and after the push. */
  before?: string;
  after?: string;
  pull_request: {
    number: number;
    html_url?: string;
    title: string;
    draft?: boolean;
    merged?: boolean | null;
    labels?: Array<{ name: string }>;
    head: { ref: string; sha: string; repo: { full_name: string } | null };
    base: { ref: string; sha: string; repo: { full_name: string } };
  };
  /** On `labeled` and `unlabeled`: the label added or removed (`labels` is the state after). */
  label?: { name: string };
  repository: GithubRepository;
  sender: GithubUser;
}

export interface IssueCommentPayload {
  action: string;
  issue: { number: number; pull_request?: unknown };
  comment: { id: number; body: string | null; user: GithubUser };
  repository: GithubRepository;
  sender: GithubUser;
}

/** The GitHub events the lifecycle reacts to. */
export type GithubEvent =
  /** `changed`: the files the push changed, gathered before the rules run with `paths` set. */
  | { name: "push"; payload: PushPayload; changed?: ChangedFiles }
  | { name: "create"; payload: RefPayload }
  | { name: "delete"; payload: RefPayload }
  /** `commits`: what a `synchronize` brought, looked up before the rules run (they do no I/O). */
  | { name: "pull_request"; payload: PullRequestPayload; commits?: PushCommit[]; changed?: ChangedFiles }
  /**
   * A comment on an issue or pull request; `canWrite` says whether its author may push to the
   * repository (asked of GitHub before the rules run, since they do no I/O).
   */
  | { name: "issue_comment"; payload: IssueCommentPayload; canWrite: boolean };

/** The event names envhooks stores and processes; every other event is acknowledged and ignored. */
export const HANDLED_EVENTS: ReadonlySet<string> = new Set([
  "push",
  "create",
  "delete",
  "pull_request",
  "issue_comment",
  "repository",
  // The runs of `runner: github-actions` (only those started by workflow_dispatch are kept).
  "workflow_run",
  "workflow_job",
]);

/** A `workflow_run` event, as envhooks reads it. */
export interface WorkflowRunPayload {
  action: string;
  workflow_run: {
    id: number;
    display_title?: string | undefined;
    status: string | null;
    conclusion: string | null;
    html_url: string;
    event: string;
    head_branch?: string | null | undefined;
    /** The workflow file (`.github/workflows/preview.yml`) and the workflow's id. */
    path?: string | undefined;
    workflow_id?: number | undefined;
  };
  repository: GithubRepository;
}

/** A `workflow_job` event, as envhooks reads it. */
export interface WorkflowJobPayload {
  action: string;
  workflow_job: { id: number; run_id: number; name: string; status: string; conclusion: string | null };
  repository: GithubRepository;
}

/** A `repository` event envhooks acts on: the project moves with a rename or transfer, or is deactivated. */
export interface RepositoryPayload {
  action: string;
  repository: GithubRepository & { id: number; name: string; owner: { login: string } };
  sender: GithubUser;
  installation?: { id: number };
  /** The name (`renamed`) or owner (`transferred`) before. */
  changes?: {
    repository?: { name: { from: string } };
    owner?: { from: { user?: { login: string }; organization?: { login: string } } };
  };
}

/** The `repository` actions envhooks stores; the others (edited, publicized, …) change nothing it keeps. */
export const REPOSITORY_ACTIONS: ReadonlySet<string> = new Set(["renamed", "transferred", "deleted"]);

/** The name a renamed or transferred repository had before, when the event says it. */
export function formerFullName(payload: RepositoryPayload): string | undefined {
  const { repository, changes } = payload;
  if (changes?.repository?.name.from) return `${repository.owner.login}/${changes.repository.name.from}`;
  const owner = changes?.owner?.from.organization?.login ?? changes?.owner?.from.user?.login;
  return owner ? `${owner}/${repository.name}` : undefined;
}

/** The command that redeploys a pull request's environment, as the first word(s) of a comment. */
export const REDEPLOY_COMMAND = /^\/envhooks\s+redeploy\b/i;

/** Whether an issue_comment delivery asks envhooks for something (others are not worth storing). */
export function isEnvhooksCommand(payload: IssueCommentPayload): boolean {
  // Read defensively: this runs on payloads before anything else checked their shape.
  const body: unknown = payload.comment?.body;
  return (
    payload.action === "created" &&
    payload.issue?.pull_request != null &&
    typeof body === "string" &&
    REDEPLOY_COMMAND.test(body.trim())
  );
}
