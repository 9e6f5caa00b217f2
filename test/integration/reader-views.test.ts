import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { pushCreatingMaster, REPO } from "../fixtures/github-events.ts";
import { DashboardClient } from "../helpers/dashboard-session.ts";
import { FakeGithub, repositoryPermissions } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const CLIENT = { clientId: "Iv1.readerclient", clientSecret: "reader-client-secret" };
/** What a capability URL and custom headers hold that a reader must not see. */
const SECRET_PATH = "/hooks/T0SECRET/B0PATH";
const QUERY_TOKEN = "q-token-4711";
const HEADER_VALUE = "team-value-0042";

// Issue 22, item 6: read-only principals see where deliveries go (the origin), not the capability URL.
describe.each(STORES)("what readers see of integrations and attempts, on $name", (kind) => {
  let envhooks: TestEnvhooks;
  let receiver: Receiver;
  let github: FakeGithub;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    github = await new FakeGithub().start();
    github.oauthClient = CLIENT;
    envhooks = await startTestEnvhooks(kind, { github, oauthClient: CLIENT });
    receiver = await new Receiver().start();
  });
  afterEach(async () => {
    await receiver?.stop();
    await envhooks?.close();
    await github?.stop();
  });

  const base = `/api/projects/${REPO}/integrations`;
  const origin = () => new URL(receiver.url).origin;
  const capabilityUrl = () => `${origin()}${SECRET_PATH}?token=${QUERY_TOKEN}&team=web`;

  /** A webhook with a capability URL and custom headers, and one delivery sent through it. */
  async function deliveredWebhook() {
    const created = await envhooks.api(base, {
      body: {
        type: "webhook",
        url: capabilityUrl(),
        headers: { "X-Team": HEADER_VALUE, Authorization: "Bearer abc" },
      },
    });
    expect(created.status).toBe(201);
    const integration = await created.json();
    expect((await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "push-1" })).status).toBe(202);
    await eventually(async () => (await findEvent(envhooks.store.db, "push-1"))?.state === "processed");
    const [delivery] = await eventually(async () => {
      const list = (await (await envhooks.api(`${base}/${integration.id}/deliveries`)).json()).items;
      return list[0]?.state === "delivered" ? list : undefined;
    });
    expect(receiver.received[0]?.path).toBe(`${SECRET_PATH}?token=${QUERY_TOKEN}&team=web`);
    return { integration, delivery };
  }

  async function projectToken(access: "read" | "write"): Promise<string> {
    const response = await envhooks.api("/api/tokens", { body: { project: REPO, access } });
    expect(response.status).toBe(201);
    return (await response.json()).token;
  }

  const asToken = (token: string) => async (path: string) => {
    const response = await envhooks.app.request(path, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status, path).toBe(200);
    return response.json();
  };

  const hidden = (text: string) => {
    expect(text).not.toContain("T0SECRET");
    expect(text).not.toContain(QUERY_TOKEN);
    expect(text).not.toContain(HEADER_VALUE);
  };

  it("a read token gets the origin and masked values; a write token what it got before", async () => {
    const { integration, delivery } = await deliveredWebhook();
    const masked = `${origin()}/********`;
    const reader = asToken(await projectToken("read"));
    const writer = asToken(await projectToken("write"));

    const [listed] = await reader(base);
    expect(listed).toMatchObject({
      url: masked,
      headers: { "X-Team": "********", Authorization: "********" },
    });
    const one = await reader(`${base}/${integration.id}`);
    expect(one).toMatchObject({ url: masked, headers: { "X-Team": "********" } });
    const detail = await reader(`/api/deliveries/${delivery.id}`);
    expect(detail.attempt_log[0].url).toBe(masked);
    const [ofActivity] = await reader(`/api/activities/${delivery.activity_id}/deliveries`);
    expect(ofActivity.attempt_log[0].url).toBe(masked);
    for (const answer of [listed, one, detail, ofActivity]) hidden(JSON.stringify(answer));

    // Writers see the integration as before: the URL (credential-like parameters masked) and headers.
    const [full] = await writer(base);
    expect(full).toMatchObject({
      url: `${origin()}${SECRET_PATH}?token=********&team=web`,
      headers: { "X-Team": HEADER_VALUE, Authorization: "********" },
    });
    // The attempt log keeps the origin and a masked path, for everyone.
    expect((await writer(`/api/deliveries/${delivery.id}`)).attempt_log[0].url).toBe(masked);
    const { rows } = await envhooks.store.db.query<{ url: string }>("SELECT url FROM delivery_attempts");
    expect(rows).toEqual([{ url: masked }]);
  });

  it("Kudu's hooks API shows a read token the origin only", async () => {
    const writeToken = await projectToken("write");
    const created = await envhooks.app.request("/api/hooks", {
      method: "POST",
      headers: { authorization: `Bearer ${writeToken}`, "content-type": "application/json" },
      body: JSON.stringify({ url: capabilityUrl(), event: "PostDeployment" }),
    });
    expect(created.status).toBe(201);
    const [hook] = await asToken(await projectToken("read"))("/api/hooks");
    expect(hook.url).toBe(`${origin()}/********`);
    const [full] = await asToken(writeToken)("/api/hooks");
    expect(full.url).toContain(SECRET_PATH);
  });

  it("a pull user's dashboard pages show the origin only; a push user's the URL", async () => {
    const { integration, delivery } = await deliveredWebhook();
    const user = (login: string, id: number, role: "pull" | "push") =>
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
    user("reader", 21, "pull");
    user("writer", 22, "push");
    const pages = [
      `/projects/${REPO}`,
      `/projects/${REPO}/integrations/${integration.id}`,
      `/deliveries/${delivery.id}`,
      `/activities/${delivery.activity_id}`,
    ];
    const reader = await signInWithGithub("reader");
    for (const path of pages) {
      const response = await reader.get(path);
      expect(response.status, path).toBe(200);
      const page = await response.text();
      hidden(page);
      if (path.includes("/integrations/") || path.startsWith("/deliveries/"))
        expect(page).toContain(origin());
    }
    const writer = await signInWithGithub("writer");
    const page = await (await writer.get(`/projects/${REPO}/integrations/${integration.id}`)).text();
    expect(page).toContain(SECRET_PATH);
  });

  async function signInWithGithub(login: string): Promise<DashboardClient> {
    const client = new DashboardClient(envhooks.app);
    const start = await client.get("/login/github?next=/");
    expect(start.status).toBe(302);
    github.signedInAs = login;
    const authorized = await fetch(start.headers.get("location") ?? "", { redirect: "manual" });
    expect(authorized.status).toBe(302);
    const callback = new URL(authorized.headers.get("location") ?? "");
    const done = await client.get(callback.pathname + callback.search);
    expect(done.status).toBe(303);
    return client;
  }
});
