import examples from "@octokit/webhooks-examples/api.github.com/index.json" with { type: "json" };
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pushCreatingMaster, pushTo, REPO, repositoryIdOf } from "../fixtures/github-events.ts";
import { DashboardClient } from "../helpers/dashboard-session.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

type Payload = Record<string, any>;

/** The examples' repository (Codertocat/Hello-World) and its id, as GitHub's pushes carry it. */
const HELLO = { id: 186853002, full_name: REPO };
/** Codertocat/Space, as the real `installation_repositories.added` example lists it. */
const SPACE = { id: 186853007, full_name: "Codertocat/Space" };
/** A third repository with an id of its own. */
const OTHER = { id: 186853099, full_name: "acme/storefront" };
const INSTALLATION = 957387;

/** GitHub's real example for `event` / `action`, with `edit` applied to a copy. */
function example(event: string, action: string, edit: (payload: Payload) => void = () => {}): Payload {
  const group = (examples as Array<{ name: string; examples: Payload[] }>).find((e) => e.name === event);
  const found = structuredClone(group?.examples.find((e) => e.action === action)) as Payload;
  edit(found);
  return found;
}

/** A repository as installation events list it. */
function listed(repository: { id: number; full_name: string }): Payload {
  const name = repository.full_name.split("/")[1] ?? "";
  return { ...repository, node_id: `R_${repository.id}`, name, private: false };
}

/** GitHub's real `repository.renamed` example, about `repository` now named `fullName`. */
function renamed(repository: { id: number; full_name: string }, fullName: string): Payload {
  return example("repository", "renamed", (payload) => {
    const [owner = "", name = ""] = fullName.split("/");
    payload.repository = {
      ...payload.repository,
      id: repository.id,
      name,
      full_name: fullName,
      owner: { ...payload.repository.owner, login: owner },
      default_branch: "master",
    };
    payload.changes = { repository: { name: { from: repository.full_name.split("/")[1] } } };
    payload.installation = { id: INSTALLATION };
  });
}

interface Listed {
  project: string;
  status: string;
  no_event_yet: boolean;
  default_branch: string | null;
}

// Issue 27 §7: the installation's repositories are projects before their first event, read from
// the installation deliveries alone (this envhooks has no GitHub App credentials: nothing can be
// asked of GitHub), so integrations can be added before any push.
describe.each(STORES)(
  "repositories of the installation before their first event on $name",
  { timeout: 120_000 },
  (kind) => {
    let store: TestStore;
    let envhooks: TestEnvhooks | undefined;
    let receiver: Receiver;

    beforeEach(async ({ skip }) => {
      if (kind.skip) skip(kind.skip);
      receiver = await new Receiver().start();
      store = await kind.open();
      envhooks = await startTestEnvhooks(kind, { store });
    });
    afterEach(async () => {
      await envhooks?.close();
      envhooks = undefined;
      await receiver?.stop();
      await store?.close();
    });

    async function projects(): Promise<Listed[]> {
      const response = await (envhooks as TestEnvhooks).api("/api/projects");
      expect(response.status).toBe(200);
      return response.json();
    }

    async function rows(): Promise<Array<{ key: string; repository_id: string | null; status: string }>> {
      return (
        await store.db.query<{ key: string; repository_id: string | null; status: string }>(
          "SELECT key, repository_id::text, status FROM projects ORDER BY key",
        )
      ).rows;
    }

    async function installed(app: TestEnvhooks): Promise<void> {
      const created = example("installation", "created", (payload) => {
        payload.installation.id = INSTALLATION;
        payload.repositories = [listed(HELLO), listed(OTHER)];
      });
      expect((await app.deliver("installation", created)).status).toBe(202);
      const added = example("installation_repositories", "added", (payload) => {
        payload.installation.id = INSTALLATION;
        payload.repositories_added = [listed(SPACE)];
      });
      expect(added.repositories_added[0]).toMatchObject(SPACE);
      expect((await app.deliver("installation_repositories", added)).status).toBe(202);
    }

    it("lists them in the API and the dashboard, and an integration added before any push gets the first one", async () => {
      const app = envhooks as TestEnvhooks;
      await installed(app);

      const before = await projects();
      expect(before.map((p) => p.project)).toEqual(
        [HELLO.full_name, SPACE.full_name, OTHER.full_name].sort(),
      );
      for (const project of before) {
        expect(project).toMatchObject({ status: "active", no_event_yet: true, default_branch: null });
      }
      expect(await rows()).toEqual(
        [HELLO, SPACE, OTHER]
          .map((r) => ({ key: r.full_name.toLowerCase(), repository_id: String(r.id), status: "active" }))
          .sort((a, b) => a.key.localeCompare(b.key)),
      );

      const operator = new DashboardClient(app.app);
      await operator.signIn(API_TOKEN);
      const list = await operator.get("/");
      expect(list.status).toBe(200);
      const listHtml = await list.text();
      for (const repository of [HELLO, SPACE, OTHER]) expect(listHtml).toContain(repository.full_name);
      expect(listHtml).toContain("no event yet");
      const page = await operator.get(`/projects/${SPACE.full_name}`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('id="first-event"');

      // An integration before any push; the first push delivers to it, and the project is the same row.
      const added = await app.api(`/api/projects/${REPO}/integrations`, {
        body: { type: "webhook", url: receiver.url },
      });
      expect(added.status).toBe(201);
      expect((await app.deliver("push", pushCreatingMaster())).status).toBe(202);
      const first = await eventually(async () => receiver.bodies()[0]);
      expect(first.project).toBe(REPO);
      const after = await projects();
      expect(after).toHaveLength(3);
      expect(after.find((p) => p.project === REPO)).toMatchObject({
        no_event_yet: false,
        default_branch: "master",
      });
      expect((await rows()).filter((row) => row.repository_id === String(HELLO.id))).toHaveLength(1);
    });

    it("sends a test event of a listed project to the integrations added before its first push", async () => {
      const app = envhooks as TestEnvhooks;
      await installed(app);
      const added = await app.api(`/api/projects/${SPACE.full_name}/integrations`, {
        body: { type: "webhook", url: receiver.url },
      });
      expect(added.status).toBe(201);
      const sent = await app.api(`/api/projects/${SPACE.full_name}/test-event`, { body: { branch: "main" } });
      expect(sent.status).toBe(202);
      const first = await eventually(async () => receiver.bodies()[0]);
      expect(first.project).toBe(SPACE.full_name);
      // Applied to the listed project itself, not to a project of its own beside it.
      expect((await rows()).map((row) => row.key)).not.toContain(
        `${SPACE.full_name.toLowerCase()}~simulated`,
      );
    });

    it("marks a removed repository gone and keeps one project through a rename and a listing under the new name", async () => {
      const app = envhooks as TestEnvhooks;
      await installed(app);
      expect(
        (
          await app.api(`/api/projects/${OTHER.full_name}/integrations`, {
            body: { type: "webhook", url: receiver.url },
          })
        ).status,
      ).toBe(201);

      const removed = example("installation_repositories", "removed", (payload) => {
        payload.installation.id = INSTALLATION;
        payload.repositories_removed = [listed(SPACE)];
      });
      expect((await app.deliver("installation_repositories", removed)).status).toBe(202);
      expect((await projects()).find((p) => p.project === SPACE.full_name)).toMatchObject({
        status: "inactive",
      });
      const operator = new DashboardClient(app.app);
      await operator.signIn(API_TOKEN);
      expect(await (await operator.get("/")).text()).toContain("repository gone");

      // Renamed before its first event: the project moves, with its integration.
      const NEW_NAME = "acme/shop";
      expect((await app.deliver("repository", renamed(OTHER, NEW_NAME))).status).toBe(202);
      await eventually(async () => ((await rows()).some((row) => row.key === NEW_NAME) ? true : undefined));
      // GitHub lists it again under its new name (added to the installation again): still one project.
      const again = example("installation_repositories", "added", (payload) => {
        payload.installation.id = INSTALLATION;
        payload.repositories_added = [listed({ id: OTHER.id, full_name: NEW_NAME })];
      });
      expect((await app.deliver("installation_repositories", again)).status).toBe(202);
      const withId = (await rows()).filter((row) => row.repository_id === String(OTHER.id));
      expect(withId).toEqual([{ key: NEW_NAME, repository_id: String(OTHER.id), status: "active" }]);
      expect((await projects()).map((p) => p.project)).toEqual([REPO, SPACE.full_name, NEW_NAME].sort());

      // Its first push (under the new name) reaches the integration added before the rename.
      const push = pushTo(NEW_NAME, 1);
      push.repository.id = OTHER.id;
      push.installation = { ...push.installation, id: INSTALLATION };
      expect((await app.deliver("push", push)).status).toBe(202);
      const first = await eventually(async () => receiver.bodies()[0]);
      expect(first.project).toBe(NEW_NAME);
      expect((await rows()).filter((row) => row.repository_id === String(OTHER.id))).toHaveLength(1);

      // The App uninstalled: every project of the installation is gone, its history kept.
      const deleted = example("installation", "deleted", (payload) => {
        payload.installation.id = INSTALLATION;
      });
      expect((await app.deliver("installation", deleted)).status).toBe(202);
      expect((await projects()).every((p) => p.status === "inactive")).toBe(true);
      expect(await rows()).toHaveLength(3);
    });

    it("gives a project without an id the listed one, leaves a name another repository holds, and refuses a bad listing", async () => {
      const app = envhooks as TestEnvhooks;
      const eventually_ = async (key: string) =>
        eventually(async () => ((await rows()).some((row) => row.key === key) ? true : undefined));
      // acme/legacy: a project from before ids were kept; acme/taken: another repository's.
      const legacy = pushTo("acme/legacy", 1);
      delete legacy.repository.id;
      expect((await app.deliver("push", legacy)).status).toBe(202);
      expect((await app.deliver("push", pushTo("acme/taken", 1))).status).toBe(202);
      await eventually_("acme/legacy");
      await eventually_("acme/taken");
      const before = await rows();

      const bad = example("installation_repositories", "added", (payload) => {
        payload.repositories_added = [{ id: 5, full_name: "not-a-full-name" }];
      });
      const refused = await app.deliver("installation_repositories", bad);
      expect(refused.status).toBe(400);
      expect((await refused.json()).error.message).toContain("repositories_added[0].full_name");
      expect(await rows()).toEqual(before);

      const added = example("installation_repositories", "added", (payload) => {
        payload.installation.id = INSTALLATION;
        payload.repositories_added = [
          listed({ id: 700001, full_name: "acme/legacy" }),
          listed({ id: 700002, full_name: "acme/taken" }),
          listed({ id: 700003, full_name: "acme/new" }),
          listed({ id: 700003, full_name: "acme/new" }),
        ];
      });
      expect((await app.deliver("installation_repositories", added)).status).toBe(202);
      expect(await rows()).toEqual([
        { key: "acme/legacy", repository_id: "700001", status: "active" },
        { key: "acme/new", repository_id: "700003", status: "active" },
        { key: "acme/taken", repository_id: String(repositoryIdOf("acme/taken")), status: "active" },
      ]);
    });
  },
);
