import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import {
  createBranch,
  DEFAULT_BRANCH,
  deleteBranch,
  pullRequest,
  pullRequestFromFork,
  pullRequestMerged,
  pushCreatingBranch,
  pushCreatingMaster,
  pushToBranch,
  REPO,
} from "../fixtures/github-events.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

describe.each(STORES)("GitHub events to environments on $name", (kind) => {
  let github: FakeGithub;
  let envhooks: TestEnvhooks;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    envhooks = await startTestEnvhooks(kind, { github });
  });
  afterEach(async () => {
    await envhooks?.close();
    await github?.stop();
  });

  async function environments(): Promise<Array<Record<string, unknown>>> {
    const response = await envhooks.api(`/api/projects/${REPO}/environments`);
    return response.status === 404 ? [] : ((await response.json()) as Array<Record<string, unknown>>);
  }
  async function activities(): Promise<Array<Record<string, any>>> {
    const response = await envhooks.api(`/api/projects/${REPO}/activities?limit=100`);
    return response.status === 404
      ? []
      : ((await response.json()) as { items: Array<Record<string, any>> }).items;
  }
  async function processed(deliveryId: string) {
    return eventually(async () => {
      const event = await findEvent(envhooks.store.db, deliveryId);
      return event && event.state !== "pending" ? event : undefined;
    });
  }

  it("answers 202 after storing, then creates the default branch's environment with the repo config read from GitHub", async () => {
    const response = await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "d-master" });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ status: "accepted", delivery: "d-master" });
    await processed("d-master");

    const [master] = await environments();
    expect(master).toMatchObject({
      name: DEFAULT_BRANCH,
      machine_name: "master",
      is_main: true,
      status: "active",
    });
    const [activity] = await activities();
    expect(activity).toMatchObject({ type: "environment.branch", state: "complete", result: "success" });
    // The installation token and the config file were asked for.
    expect(github.callsTo(/access_tokens$/).length).toBeGreaterThan(0);
    expect(
      github.callsTo(/\/repos\/Codertocat\/Hello-World\/contents\/\.github\/envhooks\.yml$/),
    ).toHaveLength(1);
  });

  it("applies create → push → delete sent back to back in order and ends with no environment", async () => {
    const branch = "feature/login";
    for (const [name, payload, id] of [
      ["create", createBranch(branch), "d1"],
      ["push", pushToBranch(branch), "d2"],
      ["delete", deleteBranch(branch), "d3"],
    ] as const) {
      expect((await envhooks.deliver(name, payload, { deliveryId: id })).status).toBe(202);
    }
    await processed("d3");
    expect(await environments()).toEqual([]);
    const types = (await activities()).map((a) => a.type).reverse();
    expect(types).toEqual(["environment.branch", "environment.push", "environment.delete"]);
  });

  it("makes ONE activity for the two events GitHub sends for a new branch", async () => {
    await envhooks.deliver("push", pushCreatingBranch("topic", "c".repeat(40)), { deliveryId: "p" });
    await envhooks.deliver("create", createBranch("topic"), { deliveryId: "c" });
    await processed("c");
    const all = await activities();
    expect(all.map((a) => a.type)).toEqual(["environment.branch"]);
    expect((await environments())[0]).toMatchObject({
      name: "topic",
      head_commit: "c".repeat(40),
      parent: "master",
    });
  });

  it("answers a redelivery 200 and changes nothing", async () => {
    const payload = pushToBranch("again");
    expect((await envhooks.deliver("push", payload, { deliveryId: "same" })).status).toBe(202);
    await processed("same");
    const before = await activities();
    const again = await envhooks.deliver("push", payload, { deliveryId: "same" });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: "duplicate" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await activities()).toEqual(before);
  });

  it("keeps the order of a project's events while GitHub fails and the first one is retried", async () => {
    github.failContents = 2;
    await envhooks.deliver("create", createBranch("retry-me"), { deliveryId: "r1" });
    await envhooks.deliver("delete", deleteBranch("retry-me"), { deliveryId: "r2" });
    const first = await processed("r1");
    expect(first).toMatchObject({ state: "processed" });
    expect(first.attempts).toBeGreaterThanOrEqual(1);
    await processed("r2");
    expect(await environments()).toEqual([]);
    expect((await activities()).map((a) => a.type).reverse()).toEqual([
      "environment.branch",
      "environment.delete",
    ]);
    expect(github.callsTo(/contents\/\.github\/envhooks\.yml$/).length).toBeGreaterThanOrEqual(3);
  });

  it("records an invalid .github/envhooks.yml as a failed activity naming the field, and changes no environment", async () => {
    github.configFiles.set(REPO, "fetch_branches: sometimes\nbuild_forks: true\n");
    await envhooks.deliver("push", pushToBranch("feature"), { deliveryId: "bad-config" });
    await processed("bad-config");
    expect(await environments()).toEqual([]);
    const [activity] = await activities();
    expect(activity).toMatchObject({
      type: "integration.github.config",
      result: "failure",
      state: "complete",
    });
    expect(activity?.log).toContain("fetch_branches");
  });

  it("reports YAML that cannot be parsed the same way", async () => {
    github.configFiles.set(REPO, "fetch_branches: [true\n");
    await envhooks.deliver("push", pushToBranch("feature"), { deliveryId: "bad-yaml" });
    await processed("bad-yaml");
    const [activity] = await activities();
    expect(activity).toMatchObject({ type: "integration.github.config", result: "failure" });
    expect(activity?.log).toMatch(/invalid YAML/);
  });

  it("follows the repository's options: fetch_branches false ignores a new branch", async () => {
    github.configFiles.set(REPO, "fetch_branches: false\n");
    await envhooks.deliver("push", pushToBranch("ignored"), { deliveryId: "ign" });
    const event = await processed("ign");
    expect(event.outcome).toContain("fetch_branches is false");
    expect(await environments()).toEqual([]);
  });

  it("creates, rebuilds and deletes a pull request's environment, merged or not", async () => {
    await envhooks.deliver("pull_request", pullRequest("opened"), { deliveryId: "pr1" });
    await envhooks.deliver("pull_request", pullRequest("synchronize"), { deliveryId: "pr2" });
    await envhooks.deliver("pull_request", pullRequestMerged(), { deliveryId: "pr3" });
    await processed("pr3");
    const all = (await activities()).reverse();
    expect(all.map((a) => [a.type, a.parameters.environment])).toEqual([
      ["environment.branch", "pr-2"],
      ["environment.push", "pr-2"],
      ["environment.delete", "pr-2"],
    ]);
    expect(all[0]?.github.pull_request).toMatchObject({ number: 2 });
    expect(all[2]?.text).toContain("merged pull request #2");
    expect(await environments()).toEqual([]);
  });

  it("skips a pull request from a fork and shows why in the project's GitHub events", async () => {
    await envhooks.deliver("pull_request", pullRequestFromFork(), { deliveryId: "fork" });
    await processed("fork");
    expect(await environments()).toEqual([]);
    const response = await envhooks.api(`/api/projects/${REPO}/github-events?limit=5`);
    expect(response.status).toBe(200);
    const { items } = await response.json();
    expect(items[0]).toMatchObject({
      delivery_id: "fork",
      event: "pull_request",
      action: "opened",
      state: "processed",
      outcome: expect.stringContaining("fork forker/Hello-World and build_forks is false"),
    });
  });
});
