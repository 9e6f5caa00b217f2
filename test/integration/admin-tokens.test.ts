import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pushCreatingMaster, REPO } from "../fixtures/github-events.ts";
import { DashboardClient } from "../helpers/dashboard-session.ts";
import { FakeGithub, repositoryPermissions } from "../helpers/fake-github.ts";
import { STORES } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const CLIENT = { clientId: "Iv1.admintokens", clientSecret: "admin-tokens-client-secret" };

// Issue 27 §7: a repository's admin, signed in with GitHub, creates and revokes that repository's
// project tokens; a push user cannot; and no one gets a token for a repository envhooks does not know.
describe.each(STORES)("project tokens made by repository admins, on $name", { timeout: 60_000 }, (kind) => {
  let envhooks: TestEnvhooks;
  let github: FakeGithub;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    github.oauthClient = CLIENT;
    envhooks = await startTestEnvhooks(kind, { github, oauthClient: CLIENT });
    await envhooks.deliver("push", pushCreatingMaster());
    await eventually(async () => (await (await envhooks.api("/api/projects")).json()).length === 1, 20_000);
  });
  afterEach(async () => {
    await envhooks?.close();
    await github?.stop();
  });

  function addUser(login: string, id: number, role: "push" | "admin") {
    github.addUser({
      login,
      id,
      installations: [
        {
          id: 7,
          account: "Codertocat",
          repositories: [{ full_name: REPO, permissions: repositoryPermissions(role) }],
        },
      ],
    });
  }

  async function signInWithGithub(login: string): Promise<DashboardClient> {
    const client = new DashboardClient(envhooks.app);
    const start = await client.get("/login/github?next=/");
    github.signedInAs = login;
    const authorized = await fetch(start.headers.get("location") ?? "", { redirect: "manual" });
    const callback = new URL(authorized.headers.get("location") ?? "");
    expect((await client.get(callback.pathname + callback.search)).status).toBe(303);
    const home = await (await client.get("/")).text();
    client.csrf = /name="_csrf" value="([^"]+)"/.exec(home)?.[1] ?? "";
    return client;
  }

  it("lets an admin create a token for their repository (it works, shown once), list and revoke it", async () => {
    addUser("boss", 41, "admin");
    const admin = await signInWithGithub("boss");
    const home = await (await admin.get("/")).text();
    expect(home).toContain('href="/tokens"');
    const created = await admin.post("/tokens", { project: REPO.toLowerCase(), name: "ci", access: "write" });
    expect(created.status).toBe(303);
    const page = await (await admin.get(created.headers.get("location") ?? "")).text();
    const token = /id="new-token">(ehk_[^<]+)</.exec(page)?.[1];
    expect(token).toBeTruthy();
    const used = await envhooks.app.request(`/api/projects/${REPO}/environments`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(used.status).toBe(200);
    const listed = await (await envhooks.api("/api/tokens")).json();
    expect(listed).toMatchObject([{ name: "ci", project: REPO.toLowerCase(), access: "write" }]);
    expect((await admin.post(`/tokens/${listed[0].id}/revoke`)).status).toBe(303);
    expect(await (await envhooks.api("/api/tokens")).json()).toEqual([]);
  });

  it("refuses a push user (403), and a repository envhooks does not know with the field named", async () => {
    addUser("dev", 42, "push");
    const writer = await signInWithGithub("dev");
    expect(await (await writer.get("/")).text()).not.toContain('href="/tokens"');
    const refused = await writer.post("/tokens", { project: REPO, name: "ci" });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("admin");

    // The form refuses a repository envhooks does not know, naming the field; nothing is stored.
    const operator = new DashboardClient(envhooks.app);
    await operator.signIn(API_TOKEN);
    const unknown = await operator.post("/tokens", { project: "someone/else", name: "ci", access: "read" });
    expect(unknown.status).toBe(400);
    const page = await unknown.text();
    expect(page).toContain('id="project-error"');
    expect(page).toContain("envhooks knows no repository someone/else");
    expect(page).toMatch(/id="token-project"[^>]*aria-invalid="true"/);
    expect(await (await envhooks.api("/api/tokens")).json()).toEqual([]);
  });
});
