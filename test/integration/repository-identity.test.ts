import examples from "@octokit/webhooks-examples/api.github.com/index.json" with { type: "json" };
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { simulatedPayload, simulatedRepositoryId } from "../../src/cli/simulated-events.ts";
import { pushCreatingMaster, pushTo, REPO } from "../fixtures/github-events.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

/** The id of the repository the fixtures' pushes come from (Codertocat/Hello-World). */
const REPOSITORY_ID = 186853002;
const RENAMED = "Codertocat/Renamed-World";
const TRANSFERRED = "acme/Renamed-World";

type Payload = Record<string, any>;

/** A push to master of the fixtures' repository under the name `fullName` (GitHub's id kept). */
function pushAs(fullName: string, n: number): Payload {
  const payload = pushTo(fullName, n);
  payload.repository.id = REPOSITORY_ID;
  return payload;
}

/** The real `repository` example for `action`, about the fixtures' repository under `fullName`. */
function repositoryEvent(action: string, fullName: string, changes?: Payload): Payload {
  const group = (examples as Array<{ name: string; examples: Payload[] }>).find(
    (e) => e.name === "repository",
  );
  const example = structuredClone(
    group?.examples.find((e) => e.action === (action === "deleted" ? "renamed" : action)),
  ) as Payload;
  const [owner = "", name = ""] = fullName.split("/");
  example.action = action;
  example.repository = {
    ...example.repository,
    id: REPOSITORY_ID,
    name,
    full_name: fullName,
    owner: { ...example.repository.owner, login: owner },
    default_branch: "master",
  };
  if (changes) example.changes = changes;
  else delete example.changes;
  return example;
}

describe.each(STORES)("repository identity on $name", { timeout: 120_000 }, (kind) => {
  let github: FakeGithub;
  let store: TestStore;
  let envhooks: TestEnvhooks | undefined;
  let receiver: Receiver;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    for (const name of [REPO, RENAMED, TRANSFERRED]) github.configFiles.set(name, "");
    receiver = await new Receiver().start();
    store = await kind.open();
    envhooks = await startTestEnvhooks(kind, { github, store });
  });
  afterEach(async () => {
    await envhooks?.close();
    envhooks = undefined;
    await receiver?.stop();
    await github?.stop();
    await store?.close();
  });

  async function projectRow(): Promise<{ key: string; status: string; repository_id: string | null }> {
    const { rows } = await store.db.query<{ key: string; status: string; repository_id: string | null }>(
      "SELECT key, status, repository_id::text FROM projects",
    );
    expect(rows).toHaveLength(1);
    return rows[0] as { key: string; status: string; repository_id: string | null };
  }

  /** Delivers and waits until the inbox has applied it. */
  async function applied(event: string, payload: Payload): Promise<string> {
    const app = envhooks as TestEnvhooks;
    const deliveryId = crypto.randomUUID();
    expect((await app.deliver(event, payload, { deliveryId })).status).toBe(202);
    return eventually(async () => {
      const { rows } = await store.db.query<{ state: string; outcome: string }>(
        "SELECT state, outcome FROM github_events WHERE delivery_id = $1",
        [deliveryId],
      );
      return rows[0]?.state === "processed" ? rows[0].outcome : undefined;
    });
  }

  it("a rename keeps every integration working, and the old name points to the new one", async () => {
    const app = envhooks as TestEnvhooks;
    expect(
      (await app.api(`/api/projects/${REPO}/integrations`, { body: { type: "webhook", url: receiver.url } }))
        .status,
    ).toBe(201);
    const created = await app.api("/api/tokens", { body: { project: REPO, access: "write", name: "ci" } });
    const { token } = await created.json();
    await applied("push", pushCreatingMaster());
    await eventually(async () => receiver.received.length === 1);
    expect((await projectRow()).repository_id).toBe(String(REPOSITORY_ID));

    // Renamed on GitHub: the project moves, with its environments, integration and token.
    const outcome = await applied(
      "repository",
      repositoryEvent("renamed", RENAMED, { repository: { name: { from: "Hello-World" } } }),
    );
    expect(outcome).toBe(`repository renamed: project ${REPO} moved to ${RENAMED}`);
    expect((await projectRow()).key).toBe(RENAMED.toLowerCase());
    const environments = await (await app.api(`/api/projects/${RENAMED}/environments`)).json();
    expect(environments.map((e: { name: string }) => e.name)).toEqual(["master"]);
    const integrations = await (await app.api(`/api/projects/${RENAMED}/integrations`)).json();
    expect(integrations).toHaveLength(1);
    const withToken = await app.app.request(`/api/projects/${RENAMED}/environments`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(withToken.status).toBe(200);

    // The old name answers with a pointer to the new one, for reads and writes alike.
    const old = await app.api(`/api/projects/${REPO}/environments?x=1`);
    expect(old.status).toBe(307);
    expect(old.headers.get("location")).toBe(`/api/projects/Codertocat/Renamed-World/environments?x=1`);
    expect(await old.json()).toMatchObject({ moved_to: RENAMED });
    const oldWrite = await app.api(`/api/projects/${REPO}/integrations`, {
      body: { type: "webhook", url: receiver.url },
    });
    expect(oldWrite.status).toBe(307);
    expect(oldWrite.headers.get("location")).toBe(`/api/projects/Codertocat/Renamed-World/integrations`);

    // Events under the new name reach the same integration, naming the project as it is now.
    await applied("push", pushAs(RENAMED, 1));
    const second = await eventually(async () => receiver.bodies()[1]);
    expect(second.project).toBe(RENAMED);

    // A late redelivery of an event from before the rename does not move the project back.
    await applied("push", pushAs(REPO, 2));
    expect((await projectRow()).key).toBe(RENAMED.toLowerCase());
    expect((await app.api(`/api/projects/${REPO}/environments`)).status).toBe(307);
    await eventually(async () => receiver.received.length === 3);

    // Transferred to another owner: the same again; both former names point to the project.
    await applied(
      "repository",
      repositoryEvent("transferred", TRANSFERRED, { owner: { from: { user: { login: "Codertocat" } } } }),
    );
    expect((await projectRow()).key).toBe(TRANSFERRED.toLowerCase());
    for (const former of [REPO, RENAMED]) {
      const response = await app.api(`/api/projects/${former}/activities`);
      expect(response.status).toBe(307);
      expect(response.headers.get("location")).toBe("/api/projects/acme/Renamed-World/activities");
    }
    await applied("push", pushAs(TRANSFERRED, 3));
    const fourth = await eventually(async () => receiver.bodies()[3]);
    expect(fourth.project).toBe(TRANSFERRED);
    expect(receiver.received).toHaveLength(4);
  });

  it("a rename envhooks missed is followed at the repository's next event", async () => {
    const app = envhooks as TestEnvhooks;
    await applied("push", pushCreatingMaster());
    // Its name has had no event for a while (RENAME_QUIET_MS)…
    await store.db.query("UPDATE github_events SET received_at = received_at - interval '2 hours'");
    // …and no repository.renamed came (envhooks was down): the next push names the repository anew.
    await applied("push", pushAs(RENAMED, 1));
    expect((await projectRow()).key).toBe(RENAMED.toLowerCase());
    const environments = await (await app.api(`/api/projects/${RENAMED}/environments`)).json();
    expect(environments.map((e: { name: string }) => e.name)).toEqual(["master"]);
    expect((await app.api(`/api/projects/${REPO}/environments`)).status).toBe(307);
  });

  it("an event under another name does not move a project whose name still gets events: both kept, the conflict logged", async () => {
    const app = envhooks as TestEnvhooks;
    const OTHER = "acme/web";
    expect(
      (await app.api(`/api/projects/${OTHER}/integrations`, { body: { type: "webhook", url: receiver.url } }))
        .status,
    ).toBe(201);
    await applied("push", pushCreatingMaster());
    // A payload for acme/web carrying Hello-World's id (a replayed or hand-made one).
    const outcome = await applied("push", pushAs(OTHER, 1));
    expect(outcome).toContain("still gets events of its own");
    const projects = async () =>
      (
        await store.db.query<{ key: string; repository_id: string | null }>(
          "SELECT key, repository_id::text FROM projects ORDER BY key",
        )
      ).rows;
    expect(await projects()).toEqual([
      { key: OTHER, repository_id: null },
      { key: REPO.toLowerCase(), repository_id: String(REPOSITORY_ID) },
    ]);
    expect(app.logs.some((line) => line.includes("still gets events of its own"))).toBe(true);
    // Each keeps its own: Hello-World its master, acme/web its environment and its integration.
    const names = async (repo: string) =>
      (await (await app.api(`/api/projects/${repo}/environments`)).json()).map(
        (e: { name: string }) => e.name,
      );
    expect(await names(REPO)).toEqual(["master"]);
    expect(await names(OTHER)).toEqual(["master"]);
    await eventually(async () => receiver.received.length === 1);
    expect(receiver.bodies()[0]?.project).toBe(OTHER);
    // Later events of either, even once Hello-World has been quiet for long, change nothing of that.
    await applied("push", pushAs(REPO, 2));
    await store.db.query("UPDATE github_events SET received_at = received_at - interval '2 hours'");
    expect(await applied("push", pushAs(OTHER, 3))).toContain("kept apart");
    expect(await projects()).toEqual([
      { key: OTHER, repository_id: null },
      { key: REPO.toLowerCase(), repository_id: String(REPOSITORY_ID) },
    ]);
    expect((await app.api(`/api/projects/${REPO}/environments`)).status).toBe(200);
  });

  it("a redelivered repository.renamed merges the project kept apart under the new name into the renamed one", async () => {
    const app = envhooks as TestEnvhooks;
    expect(
      (await app.api(`/api/projects/${REPO}/integrations`, { body: { type: "webhook", url: receiver.url } }))
        .status,
    ).toBe(201);
    await applied("push", pushCreatingMaster());
    await eventually(async () => receiver.received.length === 1);
    // Renamed on GitHub while envhooks was down: the first event under the new name comes within the
    // hour of the old name's last one, so it is kept apart (a project of its own, without the id).
    expect(await applied("push", pushAs(RENAMED, 1))).toContain("still gets events of its own");
    // GitHub's repository.renamed, redelivered: one project, under the new name, with everything.
    const outcome = await applied(
      "repository",
      repositoryEvent("renamed", RENAMED, { repository: { name: { from: "Hello-World" } } }),
    );
    expect(outcome).toContain(`project ${REPO} moved to ${RENAMED}`);
    expect(outcome).toContain("merged");
    expect(await projectRow()).toEqual({
      key: RENAMED.toLowerCase(),
      status: "active",
      repository_id: String(REPOSITORY_ID),
    });
    const environments = await (await app.api(`/api/projects/${RENAMED}/environments`)).json();
    expect(environments.map((e: { name: string }) => e.name)).toEqual(["master"]);
    // Both projects' activities (the push before the rename, the one kept apart after it) are its own.
    const { rows: activities } = await store.db.query<{ key: string }>(
      "SELECT p.key FROM activities a JOIN projects p ON p.id = a.project_id",
    );
    expect(activities.length).toBeGreaterThanOrEqual(2);
    expect(new Set(activities.map((a) => a.key))).toEqual(new Set([RENAMED.toLowerCase()]));
    expect(await (await app.api(`/api/projects/${RENAMED}/integrations`)).json()).toHaveLength(1);
    expect((await app.api(`/api/projects/${REPO}/environments`)).status).toBe(307);
    // The integration receives the new name's events again.
    await applied("push", pushAs(RENAMED, 3));
    await eventually(async () => receiver.received.length === 2);
    expect(receiver.bodies()[1]?.project).toBe(RENAMED);
  });

  it("a simulated event never moves a GitHub repository's project: it gets a project of its own, and real events still reach the integrations", async () => {
    const app = envhooks as TestEnvhooks;
    const SIMULATED = `${REPO}~simulated`;
    expect(
      (await app.api(`/api/projects/${REPO}/integrations`, { body: { type: "webhook", url: receiver.url } }))
        .status,
    ).toBe(201);
    await applied("push", pushCreatingMaster());
    await eventually(async () => receiver.received.length === 1);
    // `envhooks simulate push --repo Codertocat/Hello-World`: its own id (2^52 and up), marked simulated.
    const simulated = simulatedPayload("push", { repo: REPO, branch: "feature-s", pr: 1, action: "opened" });
    expect(await applied("push", simulated)).toContain("name held by a GitHub repository");
    // `--repository-id` with the real repository's id, under another name, once Hello-World is quiet.
    await store.db.query("UPDATE github_events SET received_at = received_at - interval '2 hours'");
    const borrowed = simulatedPayload("push", {
      repo: "acme/web",
      branch: "feature-b",
      pr: 1,
      action: "opened",
      repositoryId: REPOSITORY_ID,
    });
    await applied("push", borrowed);
    const projects = (
      await store.db.query<{ key: string; repository_id: string | null }>(
        "SELECT key, repository_id::text FROM projects ORDER BY key",
      )
    ).rows;
    expect(projects).toEqual([
      { key: "acme/web", repository_id: null },
      { key: REPO.toLowerCase(), repository_id: String(REPOSITORY_ID) },
      { key: SIMULATED.toLowerCase(), repository_id: String(simulatedRepositoryId(REPO)) },
    ]);
    const names = async (repo: string) =>
      (await (await app.api(`/api/projects/${repo}/environments`)).json()).map(
        (e: { name: string }) => e.name,
      );
    expect(await names(REPO)).toEqual(["master"]);
    expect(await names(SIMULATED)).toEqual(["feature-s"]);
    expect(await (await app.api(`/api/projects/${REPO}/integrations`)).json()).toHaveLength(1);
    // The next real event is Hello-World's, and its integration receives it.
    await applied("push", pushAs(REPO, 2));
    await eventually(async () => receiver.received.length === 2);
    expect(receiver.bodies().map((body) => body.project)).toEqual([REPO, REPO]);
  });

  it("a real event takes its name back from a simulated project that took it (before simulated events were kept apart)", async () => {
    const app = envhooks as TestEnvhooks;
    expect(
      (await app.api(`/api/projects/${REPO}/integrations`, { body: { type: "webhook", url: receiver.url } }))
        .status,
    ).toBe(201);
    await applied("push", pushCreatingMaster());
    await eventually(async () => receiver.received.length === 1);
    // What an earlier envhooks did at a simulated event: Hello-World set aside, the simulated one in its place.
    const aside = `${REPO.toLowerCase()}~${REPOSITORY_ID}`;
    await store.db.query("UPDATE projects SET key = $1, full_name = $2", [aside, `${REPO}~${REPOSITORY_ID}`]);
    for (const table of ["integrations", "github_events", "github_tasks"]) {
      await store.db.query(`UPDATE ${table} SET project_key = $1 WHERE project_key = $2`, [
        aside,
        REPO.toLowerCase(),
      ]);
    }
    await applied(
      "push",
      simulatedPayload("push", { repo: REPO, branch: "feature-s", pr: 1, action: "opened" }),
    );
    // A real event: Hello-World is back under its name, with its integration; the simulated one aside.
    await applied("push", pushAs(REPO, 2));
    const projects = (
      await store.db.query<{ key: string; repository_id: string | null }>(
        "SELECT key, repository_id::text FROM projects ORDER BY key",
      )
    ).rows;
    expect(projects).toEqual([
      { key: REPO.toLowerCase(), repository_id: String(REPOSITORY_ID) },
      { key: `${REPO.toLowerCase()}~simulated`, repository_id: String(simulatedRepositoryId(REPO)) },
    ]);
    expect(await (await app.api(`/api/projects/${REPO}/integrations`)).json()).toHaveLength(1);
    await eventually(async () => receiver.received.length === 2);
  });

  it("a missed rename onto a name a simulated project holds is followed: the simulated one's history does not count", async () => {
    await applied("push", pushCreatingMaster());
    await applied(
      "push",
      simulatedPayload("push", { repo: RENAMED, branch: "feature-s", pr: 1, action: "opened" }),
    );
    await store.db.query("UPDATE github_events SET received_at = received_at - interval '2 hours'");
    await applied("push", pushAs(RENAMED, 1));
    const projects = (
      await store.db.query<{ key: string; repository_id: string | null }>(
        "SELECT key, repository_id::text FROM projects ORDER BY key",
      )
    ).rows;
    expect(projects).toEqual([
      { key: RENAMED.toLowerCase(), repository_id: String(REPOSITORY_ID) },
      { key: `${RENAMED.toLowerCase()}~simulated`, repository_id: String(simulatedRepositoryId(RENAMED)) },
    ]);
  });

  it("a deleted or uninstalled repository is deactivated with its history, and its next event reactivates it", async () => {
    const app = envhooks as TestEnvhooks;
    await applied("push", pushCreatingMaster());
    const redeploy = () =>
      app.api(`/api/projects/${REPO}/environments/master/redeploy`, { method: "POST", body: {} });

    expect(await applied("repository", repositoryEvent("deleted", REPO))).toContain("deactivated");
    expect((await projectRow()).status).toBe("inactive");
    const refused = await redeploy();
    expect(refused.status).toBe(409);
    expect((await refused.json()).error.code).toBe("project_inactive");
    // Its history stays readable.
    expect((await (await app.api(`/api/projects/${REPO}/activities`)).json()).items).toHaveLength(1);

    await applied("push", pushAs(REPO, 1));
    expect((await projectRow()).status).toBe("active");
    expect((await redeploy()).status).toBe(202);

    // Removed from the installation (named by id), then the App uninstalled.
    const removed = await app.deliver("installation_repositories", {
      action: "removed",
      installation: { id: 1 },
      repositories_added: [],
      repositories_removed: [{ id: REPOSITORY_ID, full_name: "someone/else-named" }],
    });
    expect(removed.status).toBe(202);
    expect((await projectRow()).status).toBe("inactive");
    await applied("push", pushAs(REPO, 2));
    expect((await projectRow()).status).toBe("active");
    const uninstalled = await app.deliver("installation", {
      action: "deleted",
      installation: { id: 1 },
      repositories: [],
    });
    expect(uninstalled.status).toBe(202);
    expect((await projectRow()).status).toBe("inactive");
  });
});
