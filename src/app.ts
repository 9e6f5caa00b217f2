import type { Probot } from "probot";
import { type ApplyDeps, applyEvent } from "./intake/apply-event.ts";
import { readRepoConfig } from "./intake/read-repo-config.ts";
import type { GithubEvent } from "./lifecycle/github-event.ts";

/** The Probot app: wiring only. Every handled event goes through the lifecycle with the repo's config. */
export function envhooksApp(deps: ApplyDeps) {
  return (app: Probot) => {
    app.on(["push", "create", "delete", "pull_request"], async (context) => {
      const config = await readRepoConfig(() => context.config("envhooks.yml"));
      const event = { name: context.name, payload: context.payload } as GithubEvent;
      const installation = (context.payload as { installation?: { id: number } }).installation;
      await applyEvent(deps, context.id, event, installation?.id ?? null, config);
    });
  };
}
