import { describe, expect, it } from "vitest";
import { newActivityId } from "../../src/activity/activity-id.ts";
import { buildActivity, describeTransition, transitionLog } from "../../src/activity/build-activity.ts";

// The keys of Platform.sh's generic-webhook example activity, level by level.
const PLATFORM_SH_KEYS = {
  activity: [
    "completed_at",
    "completion_percent",
    "created_at",
    "environments",
    "id",
    "log",
    "parameters",
    "payload",
    "project",
    "result",
    "started_at",
    "state",
    "type",
    "updated_at",
  ],
  parameters: ["environment", "new_commit", "old_commit", "user"],
  payload: ["commits", "commits_count", "environment", "user"],
  environment: [
    "created_at",
    "deployment_target",
    "has_code",
    "head_commit",
    "id",
    "is_dirty",
    "is_main",
    "name",
    "parent",
    "project",
    "status",
    "title",
    "updated_at",
  ],
  user: ["created_at", "display_name", "id", "updated_at"],
  commit: ["author", "message", "sha"],
};

const at = new Date("2026-11-22T10:00:00.000Z");
const activity = buildActivity({
  id: "o6nnkdf4w7jdm",
  type: "environment.push",
  project: "acme/shop",
  environment: {
    id: "main",
    name: "main",
    machine_name: "main",
    title: "main",
    project: "acme/shop",
    parent: null,
    head_commit: "b".repeat(40),
    status: "active",
    is_main: true,
    is_dirty: false,
    has_code: true,
    deployment_target: "local",
    clone_parent_data: false,
    pull_request: null,
    url: null,
    created_at: at.toISOString(),
    updated_at: at.toISOString(),
  },
  oldCommit: "a".repeat(40),
  newCommit: "b".repeat(40),
  commits: [
    { sha: "b".repeat(40), message: "empty", author: { name: "John Doe", email: "user@example.com" } },
  ],
  user: { id: 35, login: "johndoe" },
  text: "johndoe pushed 1 commit to main: environment main rebuilt.",
  log: "Found 1 new commit.",
  result: "success",
  at,
  github: { event: "push", delivery_id: "d", pull_request: null },
});

describe("activity JSON", () => {
  it("has every field of Platform.sh's example, at every level, plus text and github", () => {
    expect(Object.keys(activity)).toEqual(
      expect.arrayContaining([...PLATFORM_SH_KEYS.activity, "text", "github"]),
    );
    expect(Object.keys(activity.parameters).sort()).toEqual(PLATFORM_SH_KEYS.parameters);
    expect(Object.keys(activity.payload).sort()).toEqual(PLATFORM_SH_KEYS.payload);
    expect(Object.keys(activity.payload.environment ?? {})).toEqual(
      expect.arrayContaining(PLATFORM_SH_KEYS.environment),
    );
    expect(Object.keys(activity.payload.user ?? {}).sort()).toEqual(PLATFORM_SH_KEYS.user);
    expect(Object.keys(activity.payload.commits[0] ?? {}).sort()).toEqual(PLATFORM_SH_KEYS.commit);
  });

  it("is complete and successful, with every timestamp the moment of the change", () => {
    expect(activity).toMatchObject({
      state: "complete",
      result: "success",
      completion_percent: 100,
      created_at: at.toISOString(),
      started_at: at.toISOString(),
      completed_at: at.toISOString(),
      updated_at: at.toISOString(),
      environments: ["main"],
      parameters: { environment: "main", old_commit: "a".repeat(40), new_commit: "b".repeat(40), user: "35" },
      payload: { commits_count: 1, user: { id: "35", display_name: "johndoe" } },
    });
  });

  it("says what happened in one sentence and a Platform.sh-style log", () => {
    expect(
      describeTransition({ id: 1, login: "mona" }, "deleted branch old", "environment.delete", "old"),
    ).toBe("mona deleted branch old: environment old deleted.");
    expect(transitionLog("environment.push", "main", activity.payload.commits, "b".repeat(40))).toBe(
      "Found 1 new commit.\n\nEnvironment main rebuilt at bbbbbbb.",
    );
  });

  it("ids look like Platform.sh's: 13 lower-case base32 characters, all different", () => {
    const ids = new Set(Array.from({ length: 1000 }, newActivityId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[a-z2-7]{13}$/);
  });
});
