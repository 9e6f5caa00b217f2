import type { Logger } from "pino";
import type { ProbotOctokit } from "probot";
import type { RepoConfig } from "../config/repo-config.schema.ts";
import type { GithubEvent } from "../lifecycle/github-event.ts";
import type { Metrics } from "../metrics.ts";
import type { Queryable } from "../store/database.ts";
import { changedFilesOfPush } from "./changed-files.ts";
import { synchronizeFacts } from "./pull-request-commits.ts";

/**
 * The facts the lifecycle rules need from GitHub besides the payload, gathered before they run (they
 * do no I/O): a `synchronize`'s commits, and with `paths` set the files a push or synchronize
 * changed. Runs in the apply step, after the webhook was answered: GitHub being slow delays the
 * event's activity (5 s at most per compare), never the acknowledgement.
 */
export async function gatherFacts(
  deps: { db: Queryable; log: Logger; metrics?: Metrics | undefined },
  octokit: InstanceType<typeof ProbotOctokit>,
  event: GithubEvent,
  options: RepoConfig,
): Promise<GithubEvent> {
  if (event.name === "pull_request" && event.payload.action === "synchronize") {
    const { commits, changed } = await synchronizeFacts(deps, octokit, event.payload, options);
    return changed ? { ...event, commits, changed } : { ...event, commits };
  }
  if (event.name === "push") {
    const changed = await changedFilesOfPush(deps, octokit, event, options);
    return changed ? { ...event, changed } : event;
  }
  return event;
}
