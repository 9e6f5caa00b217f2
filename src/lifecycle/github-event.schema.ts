import { z } from "zod";

/**
 * The fields of GitHub's webhook payloads that envhooks reads, per handled event, checked once at
 * intake (and again before a stored delivery is applied). Objects are loose: GitHub adds fields,
 * and what envhooks does not read is kept as it came.
 * https://docs.github.com/en/webhooks/webhook-events-and-payloads
 */

/** PostgreSQL's text and jsonb refuse NUL and lone UTF-16 surrogates (22021, 22P05). */
function isStorable(value: string): boolean {
  return !value.includes("\u0000") && value.isWellFormed();
}

/** A name envhooks stores or shows as is (a login, a label, a repository): refused if not storable. */
const name = z
  .string()
  .min(1)
  .refine((value) => isStorable(value) && !/\p{Cc}/u.test(value), {
    message: "must not contain NUL, control characters or lone surrogates",
  });

/**
 * A git ref (`refs/heads/main`) or branch name. Git refuses control characters, space, `~ ^ : ? * [ \`
 * in ref names (`git check-ref-format`), so GitHub never sends them; envhooks relies on `:` never
 * being in a branch name (see `branchEnvironment`).
 */
const refName = name.refine((value) => !/[ ~^:?*[\\]/.test(value), {
  message: "is not a valid git ref name (git refuses space and ~ ^ : ? * [ \\)",
});

/** A commit id: SHA-1 (40 hex digits) or SHA-256 (64). */
const sha = z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, "expected a 40- or 64-digit hex commit id");

/** Free text made storable: NUL removed, lone surrogates replaced (U+FFFD). */
export function storableText(value: string): string {
  return value.replaceAll("\u0000", "").toWellFormed();
}

/** Free text envhooks copies into activities (commit messages, authors): made storable, not refused. */
const text = z.string().transform(storableText);

/** A pull request or issue number: PostgreSQL keeps it as `integer`. */
const number = z.number().int().positive().max(2_147_483_647);

const user = z.looseObject({ id: z.number().int(), login: name });

const fullName = name.regex(/^[^/]+\/[^/]+$/, "expected owner/name");

/** GitHub's repository id: a project follows it through renames and transfers. */
const repositoryId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

const repository = z.looseObject({
  /** Optional for deliveries simulated without one; GitHub always sends it. */
  id: repositoryId.optional(),
  full_name: fullName,
  name,
  owner: z.looseObject({ login: name }),
  default_branch: refName,
  html_url: name.optional(),
});

/** What every handled event carries: the repository, who did it, and the App installation. */
const common = {
  repository,
  sender: user,
  installation: z.looseObject({ id: z.number().int().nonnegative() }).optional(),
};

const commit = z.looseObject({
  id: sha,
  message: text,
  author: z.looseObject({ name: text, email: text.nullish() }),
});

const push = z.looseObject({
  ...common,
  ref: refName,
  before: sha,
  after: sha,
  created: z.boolean(),
  deleted: z.boolean(),
  commits: z.array(commit),
});

/** `create` and `delete`: `ref` is the short name (`feature/x`, `v1.0`). */
const ref = z.looseObject({ ...common, ref: refName, ref_type: z.string() });

const side = (repo: z.ZodType) => z.looseObject({ ref: refName, sha, repo });

const pullRequest = z
  .looseObject({
    ...common,
    action: z.string(),
    number,
    before: sha.optional(),
    after: sha.optional(),
    pull_request: z.looseObject({
      number,
      html_url: name.optional(),
      draft: z.boolean().optional(),
      merged: z.boolean().nullish(),
      labels: z.array(z.looseObject({ name })).optional(),
      head: side(z.looseObject({ full_name: name }).nullable()),
      base: side(z.looseObject({ full_name: name })),
    }),
    label: z.looseObject({ name }).optional(),
  })
  .refine((payload) => !["labeled", "unlabeled"].includes(payload.action) || payload.label, {
    path: ["label"],
    message: "expected an object on labeled and unlabeled",
  });

const issueComment = z.looseObject({
  ...common,
  action: z.string(),
  issue: z.looseObject({ number, pull_request: z.unknown().optional() }),
  comment: z.looseObject({ id: z.number().int(), body: z.string().nullable(), user }),
});

/** A repository as installation events list it. */
const listedRepository = z.looseObject({ id: repositoryId.optional(), full_name: fullName });

/**
 * The App's own events: envhooks reads the installation, and the repositories it names (on
 * `created`, those it was installed on; added to it; removed from it).
 */
const installation = z.looseObject({
  action: z.string().optional(),
  installation: z.looseObject({ id: z.number().int().nonnegative() }),
  repositories: z.array(listedRepository).nullish(),
  repositories_added: z.array(listedRepository).optional(),
  repositories_removed: z.array(listedRepository).optional(),
});

/**
 * `repository` events envhooks acts on: `renamed` and `transferred` move the project, `deleted`
 * deactivates it. The repository's id is required: it is how the project is found again.
 */
const repositoryEvent = z.looseObject({
  action: z.string(),
  repository: repository.extend({ id: repositoryId }),
  sender: user,
  installation: common.installation,
  changes: z
    .looseObject({
      repository: z.looseObject({ name: z.looseObject({ from: name }) }).optional(),
      owner: z
        .looseObject({
          from: z.looseObject({
            user: z.looseObject({ login: name }).optional(),
            organization: z.looseObject({ login: name }).optional(),
          }),
        })
        .optional(),
    })
    .optional(),
});

/** A run id, a job id: GitHub's ids grow past 2^31. */
const runId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** `workflow_run`: a run of a workflow (envhooks follows those it dispatched, `runner: github-actions`). */
const workflowRun = z.looseObject({
  ...common,
  action: z.string(),
  workflow_run: z.looseObject({
    id: runId,
    display_title: text.optional(),
    status: z.string().nullable(),
    conclusion: z.string().nullable(),
    html_url: z.string().url(),
    event: z.string(),
    head_branch: z.string().nullish(),
  }),
});

/** `workflow_job`: a job of a run; its name and conclusion go into the activity's log. */
const workflowJob = z.looseObject({
  ...common,
  action: z.string(),
  workflow_job: z.looseObject({
    id: runId,
    run_id: runId,
    name: text,
    status: z.string(),
    conclusion: z.string().nullable(),
  }),
});

/** A check suite or run's status and conclusion, as GitHub names them. */
const checkState = { status: z.string().nullish(), conclusion: z.string().nullish() };

/** `check_suite` (wait_for_checks): a suite of an app's check runs on a commit. */
const checkSuite = z.looseObject({
  ...common,
  action: z.string(),
  check_suite: z.looseObject({
    id: runId,
    head_sha: sha,
    ...checkState,
    app: z.looseObject({ slug: text.nullish(), name: text.nullish() }).nullish(),
  }),
});

/** `check_run` (wait_for_checks): one check of a commit; its name and page go into the activity's log. */
const checkRun = z.looseObject({
  ...common,
  action: z.string(),
  check_run: z.looseObject({
    id: runId,
    head_sha: sha,
    name: text,
    ...checkState,
    html_url: z.string().nullish(),
    check_suite: z.looseObject({ id: runId, status: z.string().nullish() }).nullish(),
  }),
});

/** `status` (wait_for_checks): a commit status; its context and address go into the activity's log. */
const commitStatus = z.looseObject({
  ...common,
  sha,
  context: text,
  state: z.enum(["pending", "success", "failure", "error"]),
  target_url: z.string().nullish(),
});

/**
 * One schema per event envhooks reads: each handled event (HANDLED_EVENTS; one without a schema
 * is refused) and the App's installation events.
 */
export const GITHUB_EVENT_SCHEMAS: Readonly<Record<string, z.ZodType<Record<string, unknown>>>> = {
  push,
  create: ref,
  delete: ref,
  pull_request: pullRequest,
  issue_comment: issueComment,
  installation,
  installation_repositories: installation,
  repository: repositoryEvent,
  workflow_run: workflowRun,
  workflow_job: workflowJob,
  check_suite: checkSuite,
  check_run: checkRun,
  status: commitStatus,
};

/** Why a payload was refused: each problem as `path: message`, and the first path. */
export class InvalidPayload extends Error {
  readonly field: string;
  readonly problems: string[];
  constructor(event: string, problems: Array<{ path: string; message: string }>) {
    const listed = problems.map((problem) => `${problem.path || "(payload)"}: ${problem.message}`);
    super(`The ${event} payload is invalid: ${listed.join("; ")}.`);
    this.field = problems[0]?.path ?? "";
    this.problems = listed;
  }
}

/**
 * The payload with the fields envhooks reads checked, and free text made storable (NUL removed,
 * lone surrogates replaced); unknown fields kept. Throws `InvalidPayload`.
 */
export function parseGithubPayload(event: string, payload: unknown): Record<string, unknown> {
  const schema = GITHUB_EVENT_SCHEMAS[event];
  if (!schema)
    throw new InvalidPayload(event, [{ path: "", message: `envhooks has no schema for ${event}` }]);
  const parsed = schema.safeParse(payload);
  if (parsed.success) return parsed.data;
  throw new InvalidPayload(
    event,
    parsed.error.issues.slice(0, 5).map((issue) => ({ path: fieldPath(issue.path), message: issue.message })),
  );
}

/** `commits[0].author.name`, as a reader would write it. */
function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((key, i) => (typeof key === "number" ? `[${key}]` : `${i === 0 ? "" : "."}${String(key)}`))
    .join("");
}
