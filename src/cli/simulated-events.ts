import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

type Json = Record<string, unknown>;

/** The events `envhooks simulate` can send, shaped as GitHub sends them. */
export const SIMULATED_EVENTS = ["push", "pull_request", "create", "delete"] as const;
export type SimulatedEvent = (typeof SIMULATED_EVENTS)[number];

/**
 * A realistic GitHub payload for `event` on `repo`: the push is GitHub's own example
 * (`examples/push.json`) moved to the branch; the others carry the fields GitHub sends that
 * envhooks reads.
 */
export function simulatedPayload(
  event: SimulatedEvent,
  { repo, branch, pr, action }: { repo: string; branch: string; pr: number; action: string },
): Json {
  const example = JSON.parse(
    readFileSync(new URL("../../examples/push.json", import.meta.url), "utf8"),
  ) as Json;
  const [owner = "", name = ""] = repo.split("/");
  const repository = {
    ...(example.repository as Json),
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
