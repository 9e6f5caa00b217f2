import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { pullRequest, pushToBranch, REPO, repositoryIdOf } from "../fixtures/github-events.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const OWNER = REPO.split("/")[0] ?? "";
const INSTALLATION = 1;
const options = (host: string) => `environment_url: "https://{machine_name}.${host}.example.com"\n`;
const sha = (n: number) => n.toString(16).padStart(40, "e");

/** A push to `branch` whose one commit changed `files` (GitHub lists them per commit). */
function pushChanging(branch: string, files: string[], n: number, repo = REPO) {
  const payload = pushToBranch(branch, { before: sha(n), after: sha(n + 1) });
  payload.commits[0] = { ...payload.commits[0], added: [], removed: [], modified: files };
  if (repo !== REPO)
    payload.repository = {
      ...payload.repository,
      id: repositoryIdOf(repo),
      full_name: repo,
      name: repo.split("/")[1],
    };
  return payload;
}

describe.each(STORES)("repository options kept in the store on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let envhooks: TestEnvhooks;
  let clock: Date;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    clock = new Date();
  });
  afterEach(async () => {
    await envhooks?.close();
    await github?.stop();
  });

  async function start(config: string | undefined) {
    if (config !== undefined) github.configFiles.set(REPO, config);
    envhooks = await startTestEnvhooks(kind, { github, now: () => clock });
  }
  /** Sends a delivery and waits until it is applied. */
  async function apply(name: string, payload: unknown) {
    const deliveryId = randomUUID();
    expect((await envhooks.deliver(name, payload, { deliveryId })).status).toBe(202);
    return eventually(async () => {
      const event = await findEvent(envhooks.store.db, deliveryId);
      return event && event.state !== "pending" ? event : undefined;
    });
  }
  /** The requests for options files so far, as `status path`. */
  const optionReads = () =>
    github.callsTo(/\/contents\//).map((call) => `${call.status} ${call.path.replace("/api/v3/repos/", "")}`);
  async function environmentUrl(name: string) {
    const list = (await (await envhooks.api(`/api/projects/${REPO}/environments`)).json()) as Array<{
      name: string;
      url: string | null;
    }>;
    return list.find((environment) => environment.name === name)?.url;
  }

  it("reads the options for the first event only; other branches, pull requests and unrelated pushes read nothing", async () => {
    await start(options("a"));
    await apply("push", pushToBranch("feature"));
    expect(optionReads()).toEqual([`200 ${REPO}/contents/.github/envhooks.yml`]);
    expect(await environmentUrl("feature")).toBe("https://feature.a.example.com");

    await apply("push", pushToBranch("other"));
    await apply("pull_request", pullRequest("opened"));
    await apply("push", pushChanging("master", ["README.md", "src/app.yml"], 10));
    expect(optionReads()).toHaveLength(1);
    expect(await environmentUrl("pr-2")).toBe("https://pr-2.a.example.com");
  });

  it("reads them again after a push to the default branch that changes them, or whose commits cannot tell", async () => {
    await start(options("a"));
    await apply("push", pushToBranch("feature"));
    github.configFiles.set(REPO, options("b"));
    await apply("push", pushChanging("master", [".github/envhooks.yml"], 20));
    expect(optionReads()).toEqual([
      `200 ${REPO}/contents/.github/envhooks.yml`,
      `200 ${REPO}/contents/.github/envhooks.yml`,
    ]);
    // The push that changed them is applied with the new options, and so is what follows.
    expect(await environmentUrl("master")).toBe("https://master.b.example.com");
    await apply("push", pushToBranch("feature", { before: sha(2), after: sha(3) }));
    expect(await environmentUrl("feature")).toBe("https://feature.b.example.com");

    // A force push lists only its new commits: the file may have changed. Unchanged, GitHub answers 304.
    await apply("push", { ...pushChanging("master", ["README.md"], 30), forced: true });
    expect(optionReads().at(-1)).toBe(`304 ${REPO}/contents/.github/envhooks.yml`);
    expect(optionReads()).toHaveLength(3);
  });

  it("reads them again after a push to the owner's .github repository they come from, and after an installation event", async () => {
    await start(undefined);
    github.configFiles.set(`${OWNER}/.github`, options("org"));
    await apply("push", pushToBranch("feature"));
    // The repository has none: Probot's fallback is the owner's .github repository.
    expect(optionReads()).toEqual([
      `404 ${REPO}/contents/.github/envhooks.yml`,
      `200 ${OWNER}/.github/contents/.github/envhooks.yml`,
    ]);
    expect(await environmentUrl("feature")).toBe("https://feature.org.example.com");

    github.configFiles.set(`${OWNER}/.github`, options("org2"));
    await apply("push", pushChanging("master", [".github/envhooks.yml"], 40, `${OWNER}/.github`));
    const before = optionReads().length;
    await apply("push", pushToBranch("feature", { before: sha(2), after: sha(3) }));
    expect(optionReads().slice(before)).toEqual([
      `404 ${REPO}/contents/.github/envhooks.yml`,
      `200 ${OWNER}/.github/contents/.github/envhooks.yml`,
    ]);
    expect(await environmentUrl("feature")).toBe("https://feature.org2.example.com");

    const installation = { action: "new_permissions_accepted", installation: { id: INSTALLATION } };
    expect((await envhooks.deliver("installation", installation)).status).toBe(202);
    const after = optionReads().length;
    await apply("push", pushToBranch("feature", { before: sha(3), after: sha(4) }));
    expect(optionReads().slice(after)).toEqual([
      `404 ${REPO}/contents/.github/envhooks.yml`,
      `304 ${OWNER}/.github/contents/.github/envhooks.yml`,
    ]);
    const bad = await envhooks.deliver("installation_repositories", { installation: { id: "one" } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toContain("installation.id");
  });

  it("checks them in the background at most every 10 minutes, and applies events without waiting for GitHub", async () => {
    await start(options("a"));
    const receiver = await new Receiver().start();
    try {
      await envhooks.api(`/api/projects/${REPO}/integrations`, {
        body: { type: "webhook", url: receiver.url },
      });
      await apply("push", pushToBranch("feature"));
      expect(optionReads()).toHaveLength(1);

      // GitHub stops answering: an event within 10 minutes needs nothing from it.
      let release = () => {};
      github.holdContents = new Promise((resolve) => {
        release = resolve;
      });
      clock = new Date(clock.getTime() + 5 * 60_000);
      await apply("push", pushToBranch("feature", { before: sha(2), after: sha(3) }));
      expect(optionReads()).toHaveLength(1);

      // Past 10 minutes the event is applied and relayed while a conditional request waits on GitHub.
      clock = new Date(clock.getTime() + 6 * 60_000);
      await apply("push", pushToBranch("feature", { before: sha(3), after: sha(4) }));
      await eventually(async () => receiver.received.length === 3);
      await eventually(async () => github.callsTo(/\/contents\//).length === 2);
      release();
      github.holdContents = undefined;
      await eventually(async () => optionReads()[1] === `304 ${REPO}/contents/.github/envhooks.yml`);
      await apply("push", pushToBranch("feature", { before: sha(4), after: sha(5) }));
      expect(optionReads()).toHaveLength(2);
    } finally {
      await receiver.stop();
    }
  });

  it("refuses a file over 64 KB and a YAML bomb as invalid options naming why, and keeps answering meanwhile", async () => {
    const huge = `# ${"x".repeat(70 * 1024)}\nfetch_branches: true\n`;
    await start(huge);
    const health = startHealthWatch(envhooks);
    try {
      await apply("push", pushToBranch("feature"));
      let [activity] = await activities(envhooks);
      expect(activity).toMatchObject({ type: "integration.github.config", result: "failure" });
      expect(activity?.log).toContain("envhooks reads at most 64 KB");

      const lol = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
      for (let n = 0; n < 9; n++)
        lol.push(
          `${"bcdefghij"[n]}: &${"bcdefghij"[n]} [${Array(9).fill(`*${"abcdefghij"[n]}`).join(", ")}]`,
        );
      github.configFiles.set(REPO, `${lol.join("\n")}\n`);
      await apply("push", pushChanging("master", [".github/envhooks.yml"], 50));
      [activity] = await activities(envhooks);
      expect(activity).toMatchObject({ type: "integration.github.config", result: "failure" });
      expect(activity?.log).toMatch(/invalid YAML: .*alias/i);
      // No environment changed, and the stored options still say why.
      expect(await environmentUrl("feature")).toBeUndefined();
      const reads = optionReads().length;
      await apply("push", pushToBranch("other"));
      expect(optionReads()).toHaveLength(reads);
      [activity] = await activities(envhooks);
      expect(activity).toMatchObject({ type: "integration.github.config", result: "failure" });
    } finally {
      const slowest = await health.stop();
      // The server answered health checks throughout (generous: a busy CI machine).
      expect(slowest).toBeLessThan(1_000);
    }
  });
});

async function activities(envhooks: TestEnvhooks): Promise<Array<Record<string, any>>> {
  const response = await envhooks.api(`/api/projects/${REPO}/activities?limit=100`);
  return ((await response.json()) as { items: Array<Record<string, any>> }).items;
}

/** Asks /healthz every 20 ms until stopped; resolves to the slowest answer's time in ms. */
function startHealthWatch(envhooks: TestEnvhooks) {
  let running = true;
  let slowest = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      await envhooks.app.request("/healthz");
      slowest = Math.max(slowest, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return slowest;
    },
  };
}
