import type { Probot } from "probot";
import { type ApplyDeps, applyEvent } from "./intake/apply-event.ts";
import { readRepoConfig } from "./intake/read-repo-config.ts";
import { type GithubEvent, type IssueCommentPayload, isEnvhooksCommand } from "./lifecycle/github-event.ts";

/** GitHub's permission levels that may push (`maintain` is reported as `write`). */
const WRITE_PERMISSIONS = new Set(["admin", "write"]);

/** The Probot app: wiring only. Every handled event goes through the lifecycle with the repo's config. */
export function envhooksApp(deps: ApplyDeps) {
  return (app: Probot) => {
    app.on(["push", "create", "delete", "pull_request"], async (context) => {
      const config = await readRepoConfig(() => context.config("envhooks.yml"));
      const event = { name: context.name, payload: context.payload } as GithubEvent;
      const installation = (context.payload as { installation?: { id: number } }).installation;
      await applyEvent(deps, context.id, event, installation?.id ?? null, config);
    });
    app.on("issue_comment.created", async (context) => {
      const payload = context.payload as unknown as IssueCommentPayload;
      if (!isEnvhooksCommand(payload)) return;
      // Asked of GitHub each time: a failure here is retried like any other GitHub API failure.
      const { data } = await context.octokit.rest.repos.getCollaboratorPermissionLevel(
        context.repo({ username: payload.comment.user.login }),
      );
      const config = await readRepoConfig(() => context.config("envhooks.yml"));
      const event: GithubEvent = {
        name: "issue_comment",
        payload,
        canWrite: WRITE_PERMISSIONS.has(data.permission),
      };
      await applyEvent(deps, context.id, event, context.payload.installation?.id ?? null, config);
    });
  };
}
