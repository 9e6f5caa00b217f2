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
  full_name: string;
  default_branch: string;
  html_url?: string;
}

export interface PushCommit {
  id: string;
  message: string;
  author: { name: string; email?: string | null };
}

export interface PushPayload {
  ref: string;
  before: string;
  after: string;
  created: boolean;
  deleted: boolean;
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
    head: { ref: string; sha: string; repo: { full_name: string } | null };
    base: { ref: string; sha: string; repo: { full_name: string } };
  };
  repository: GithubRepository;
  sender: GithubUser;
}

/** The GitHub events the lifecycle reacts to. */
export type GithubEvent =
  | { name: "push"; payload: PushPayload }
  | { name: "create"; payload: RefPayload }
  | { name: "delete"; payload: RefPayload }
  | { name: "pull_request"; payload: PullRequestPayload };

/** The event names envhooks stores and processes; every other event is acknowledged and ignored. */
export const HANDLED_EVENTS: ReadonlySet<string> = new Set(["push", "create", "delete", "pull_request"]);
