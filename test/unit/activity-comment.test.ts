import { describe, expect, it } from "vitest";
import type { Activity } from "../../src/activity/activity.ts";
import { activityPageUrl, renderActivityComment } from "../../src/github/comment.ts";

const activity = {
  id: "abcdefghijklm",
  type: "environment.push",
  state: "complete",
  result: "success",
  completion_percent: 100,
  updated_at: "2026-11-30T10:00:00.000Z",
  parameters: { environment: "pr-2", old_commit: null, new_commit: "c".repeat(40), user: "octocat" },
  payload: {
    environment: { name: "pr-2", status: "active", url: null, head_commit: "c".repeat(40) },
  },
  text: "octocat pushed to pr-2",
} as unknown as Activity;

describe("the pull request comment's links", () => {
  it("links the activity to its dashboard page under ENVHOOKS_PUBLIC_URL", () => {
    const pageUrl = activityPageUrl("https://envhooks.example.com/", activity.id);
    expect(pageUrl).toBe("https://envhooks.example.com/activities/abcdefghijklm");
    const comment = renderActivityComment(activity, { pageUrl });
    expect(comment).toContain(
      "| Activity | [`abcdefghijklm`](https://envhooks.example.com/activities/abcdefghijklm) |",
    );
    expect(comment).not.toContain("| Log |");
  });

  it("keeps a deploy runner's own log as a row of its own", () => {
    const comment = renderActivityComment(activity, {
      pageUrl: "https://envhooks.example.com/activities/abcdefghijklm",
      logUrl: "https://ci.example.com/runs/7",
    });
    expect(comment).toContain("(https://envhooks.example.com/activities/abcdefghijklm)");
    expect(comment).toContain("| Log | [deploy log](https://ci.example.com/runs/7) |");
  });

  it("names the activity without a link when there is no public URL", () => {
    expect(renderActivityComment(activity, {})).toContain("| Activity | `abcdefghijklm` |");
  });
});
