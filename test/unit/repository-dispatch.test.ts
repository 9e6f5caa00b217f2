import { describe, expect, it } from "vitest";
import {
  CLIENT_PAYLOAD_MAX_BYTES,
  CLIENT_PAYLOAD_MAX_KEYS,
  EVENT_TYPE_MAX,
  repositoryDispatchTask,
} from "../../src/actions/repository-dispatch.ts";
import { buildActivity } from "../../src/activity/build-activity.ts";
import { DEFAULT_REPO_CONFIG } from "../../src/config/repo-config.schema.ts";

const huge = `https://example.com/${"x".repeat(200_000)}`;
const activity = buildActivity({
  id: "o6nnkdf4w7jdm",
  type: "environment.push",
  project: "acme/shop",
  environment: {
    id: "feature/a",
    name: "feature/a",
    machine_name: "feature-a",
    title: "feature/a",
    project: "acme/shop",
    parent: "main",
    head_commit: "a".repeat(40),
    status: "active",
    is_main: false,
    is_dirty: false,
    has_code: true,
    deployment_target: "local",
    clone_parent_data: true,
    pull_request: 7,
    url: huge,
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
  },
  oldCommit: null,
  newCommit: "b".repeat(40),
  commits: [],
  user: null,
  text: "pushed",
  log: "x".repeat(100_000),
  result: "success",
  at: new Date(),
  github: null,
});

describe("repository_dispatch for a completed activity", () => {
  it("stays within GitHub's limits: event_type ≤ 100 characters, ≤ 10 keys, under 64 KB, whatever the activity holds", () => {
    const task = repositoryDispatchTask(
      { ...activity, log_url: huge },
      { ...DEFAULT_REPO_CONFIG, notify: { repository_dispatch: true } },
    );
    expect(task?.eventType).toBe("envhooks.environment.push");
    expect(task?.eventType.length).toBeLessThanOrEqual(EVENT_TYPE_MAX);
    expect(Object.keys(task?.clientPayload ?? {})).toHaveLength(CLIENT_PAYLOAD_MAX_KEYS);
    expect(JSON.stringify(task?.clientPayload).length).toBeLessThan(CLIENT_PAYLOAD_MAX_BYTES);
    expect(task?.clientPayload).toMatchObject({ sha: "b".repeat(40), pr: 7, environment: "feature/a" });
  });

  it("is sent only when asked, for the types listed, once complete", () => {
    const on = (repository_dispatch: boolean | Array<"environment.push" | "environment.delete">) => ({
      ...DEFAULT_REPO_CONFIG,
      notify: { repository_dispatch },
    });
    expect(repositoryDispatchTask(activity, DEFAULT_REPO_CONFIG)).toBeUndefined();
    expect(repositoryDispatchTask(activity, on(false))).toBeUndefined();
    expect(repositoryDispatchTask(activity, on(["environment.delete"]))).toBeUndefined();
    expect(repositoryDispatchTask(activity, on(["environment.push"]))).toBeDefined();
    expect(repositoryDispatchTask({ ...activity, state: "in_progress" }, on(true))).toBeUndefined();
    expect(repositoryDispatchTask({ ...activity, state: "cancelled" }, on(true))).toBeUndefined();
  });
});
