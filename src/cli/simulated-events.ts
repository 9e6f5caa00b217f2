import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { SIMULATED_ID_BASE } from "../store/projects.ts";

type Json = Record<string, unknown>;

/** The events `envhooks simulate` can send, shaped as GitHub sends them. */
export const SIMULATED_EVENTS = ["push", "pull_request", "create", "delete"] as const;
export type SimulatedEvent = (typeof SIMULATED_EVENTS)[number];

/**
 * A stable repository id for a simulated `owner/repo`: 2^52 plus 48 bits of the SHA-256 of its
 * lower-cased name (GitHub compares names case-insensitively). Projects follow repository ids, so
 * each simulated repository needs one of its own: the example payload's id (186853002, GitHub's
 * Codertocat/Hello-World) would make every simulated repository a rename of that one.
 */
export function simulatedRepositoryId(fullName: string): number {
  const digest = createHash("sha256").update(fullName.toLowerCase()).digest();
  return SIMULATED_ID_BASE + digest.readUIntBE(0, 6);
}

/**
 * A realistic GitHub payload for `event` on `repo`: the push is GitHub's own example
 * (`examples/push.json`) moved to the branch; the others carry the fields GitHub sends that
 * envhooks reads. The repository gets `repositoryId` (by default `simulatedRepositoryId(repo)`),
 * and the payload says it was simulated (`envhooks_simulated: true`; GitHub never sends it).
 */
export function simulatedPayload(
  event: SimulatedEvent,
  {
    repo,
    branch,
    pr,
    action,
    repositoryId = simulatedRepositoryId(repo),
    changed,
    before,
  }: {
    repo: string;
    branch: string;
    pr: number;
    action: string;
    repositoryId?: number | undefined;
    /** A push's changed files (`--changed`), as its one commit's `modified`: what `paths` filters on. */
    changed?: string[] | undefined;
    /** A push's `before`: where the branch was (by default a random commit). */
    before?: string | undefined;
  },
): Json {
  const payload = payloadOf(event, { repo, branch, pr, action, repositoryId });
  if (before && event === "push") payload.before = before;
  if (changed && event === "push") {
    const [commit] = payload.commits as Json[];
    const changing = { ...commit, id: payload.after, added: [], modified: changed, removed: [] };
    payload.commits = [changing];
    payload.head_commit = changing;
  }
  return { ...payload, envhooks_simulated: true };
}

function payloadOf(
  event: SimulatedEvent,
  {
    repo,
    branch,
    pr,
    action,
    repositoryId,
  }: { repo: string; branch: string; pr: number; action: string; repositoryId: number },
): Json {
  const example = JSON.parse(
    readFileSync(new URL("../../examples/push.json", import.meta.url), "utf8"),
  ) as Json;
  const [owner = "", name = ""] = repo.split("/");
  const repository = {
    ...(example.repository as Json),
    id: repositoryId,
    node_id: Buffer.from(`simulated:${repositoryId}`).toString("base64"),
    full_name: repo,
    name,
    html_url: `https://github.com/${repo}`,
    owner: { ...((example.repository as Json).owner as Json), login: owner },
    default_branch: "main",
  };
  const sender = example.sender as Json;
  const sha = randomBytes(20).toString("hex");
  switch (event) {
    case "push":
      return {
        ...example,
        ref: `refs/heads/${branch}`,
        before: randomBytes(20).toString("hex"),
        after: sha,
        created: false,
        repository,
      };
    case "create":
    case "delete":
      return {
        ref: branch,
        ref_type: "branch",
        master_branch: "main",
        pusher_type: "user",
        repository,
        sender,
      };
    case "pull_request":
      return {
        action,
        number: pr,
        pull_request: {
          number: pr,
          html_url: `https://github.com/${repo}/pull/${pr}`,
          title: `Simulated pull request from ${branch}`,
          state: action === "closed" ? "closed" : "open",
          draft: false,
          merged: false,
          user: sender,
          head: { ref: branch, sha, repo: { full_name: repo } },
          base: { ref: "main", sha: randomBytes(20).toString("hex"), repo: { full_name: repo } },
        },
        repository,
        sender,
      };
  }
}
