import type { Activity } from "../activity/activity.ts";
import { newActivityId } from "../activity/activity-id.ts";
import { buildActivity } from "../activity/build-activity.ts";

/** A realistic `environment.push` for a project, sent by `POST …/integrations/{id}/test`. */
export function sampleActivity(project: string, at = new Date()): Activity {
  const iso = at.toISOString();
  const head = "5b6a3f2c0e1d4a7b8c9d0e1f2a3b4c5d6e7f8a9b";
  return buildActivity({
    id: newActivityId(),
    type: "environment.push",
    project,
    environment: {
      id: "main",
      name: "main",
      machine_name: "main",
      title: "main",
      project,
      parent: null,
      head_commit: head,
      status: "active",
      is_main: true,
      is_dirty: false,
      has_code: true,
      deployment_target: "local",
      clone_parent_data: false,
      pull_request: null,
      url: null,
      created_at: iso,
      updated_at: iso,
    },
    oldCommit: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
    newCommit: head,
    commits: [
      { sha: head, message: "Test delivery from envhooks", author: { name: "envhooks", email: null } },
    ],
    user: { id: 0, login: "envhooks" },
    text: "envhooks sent a test delivery: environment main rebuilt.",
    log: "This is a test delivery: nothing was deployed.",
    result: "success",
    at,
    github: null,
  });
}
