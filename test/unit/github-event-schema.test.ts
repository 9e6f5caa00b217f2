import { describe, expect, it } from "vitest";
import { InvalidPayload, parseGithubPayload } from "../../src/lifecycle/github-event.schema.ts";
import { HANDLED_EVENTS } from "../../src/lifecycle/github-event.ts";
import { pullRequest, pushToBranch } from "../fixtures/github-events.ts";

function problems(event: string, payload: unknown): InvalidPayload {
  try {
    parseGithubPayload(event, payload);
  } catch (error) {
    if (error instanceof InvalidPayload) return error;
    throw error;
  }
  throw new Error("the payload was accepted");
}

describe("the GitHub payload schemas", () => {
  it.each([...HANDLED_EVENTS])("has a schema for the handled event %s", (event) => {
    // A payload of the wrong shape is refused by a schema, not by the fallback for unknown events.
    expect(problems(event, {}).message).not.toContain("no schema");
  });

  it("refuses an event it has no schema for", () => {
    expect(problems("star", pushToBranch("x")).message).toContain("envhooks has no schema for star");
  });

  it("names each bad field as a reader would write it", () => {
    const payload = pushToBranch("x", { commits: 2 });
    payload.commits[1].author = { name: 7 };
    payload.repository.owner = null;
    const error = problems("push", payload);
    expect(error.field).toBe("repository.owner");
    expect(error.problems).toEqual([
      expect.stringMatching(/^repository\.owner: /),
      expect.stringMatching(/^commits\[1\]\.author\.name: /),
    ]);
  });

  it("keeps every field it does not read, and makes free text storable", () => {
    const payload = pushToBranch("x");
    payload.commits[0].message = "a\u0000b\ud800";
    const parsed = parseGithubPayload("push", payload) as typeof payload;
    expect(parsed.commits[0].message).toBe("ab\ufffd");
    expect(parsed.compare).toBe(payload.compare);
    expect(parsed.repository.node_id).toBe(payload.repository.node_id);
  });

  it("refuses a label name with a control character but takes `:` in it (envhooks:approve)", () => {
    const labelled = pullRequest("labeled");
    labelled.label = { name: "envhooks:approve" };
    expect(() => parseGithubPayload("pull_request", labelled)).not.toThrow();
    labelled.label = { name: "bad\u0007label" };
    expect(problems("pull_request", labelled).field).toBe("label.name");
  });

  it("reads the installation and the repositories added from the App's events", () => {
    const event = { action: "added", installation: { id: 1 }, repositories_added: [{ full_name: "a/b" }] };
    expect(parseGithubPayload("installation_repositories", event)).toMatchObject(event);
    expect(problems("installation", { installation: { id: "1" } }).field).toBe("installation.id");
    const nul = { installation: { id: 1 }, repositories_added: [{ full_name: "a/\u0000" }] };
    expect(problems("installation_repositories", nul).field).toBe("repositories_added[0].full_name");
  });
});
