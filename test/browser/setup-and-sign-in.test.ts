import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { sign } from "@octokit/webhooks-methods";
import { type Logger, pino } from "pino";
import { ProbotOctokit } from "probot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEnvhooks } from "../../src/envhooks.ts";
import { createSecretBox } from "../../src/store/secret-box.ts";
import { type EnvhooksHost, hostEnvhooks } from "../../src/web/access/envhooks-host.ts";
import type { SetupDeps } from "../../src/web/access/setup.ts";
import { pushToBranch, REPO } from "../fixtures/github-events.ts";
import { browserSkipReason, launchBrowser, serveOnLoopback, type TestBrowser } from "../helpers/browser.ts";
import { FakeGithub, repositoryPermissions } from "../helpers/fake-github.ts";
import { openTestPglite, type TestStore } from "../helpers/stores.ts";
import { TEST_SECRET_KEY } from "../helpers/test-envhooks.ts";

const GENERATED_TOKEN = "generated-operator-token-for-the-browser-test-0123";

// A new user's path, in chromium: open the logged /setup URL, register the App on the (fake)
// GitHub, come back connected, then sign in with GitHub and with tokens. One envhooks (as main.ts
// composes it: a host that reconnects it after setup), one browser, on the embedded store.
describe.skipIf(browserSkipReason())("setup and sign-in in a browser", { timeout: 180_000 }, () => {
  let store: TestStore;
  let github: FakeGithub;
  let host: EnvhooksHost;
  let setup: SetupDeps;
  let folder: string;
  let server: Awaited<ReturnType<typeof serveOnLoopback>>;
  let browser: TestBrowser;
  let installedSecret = "";

  beforeAll(async () => {
    store = await openTestPglite();
    github = await new FakeGithub().start();
    folder = mkdtempSync(join(tmpdir(), "envhooks-browser-setup-"));
    const logs: string[] = [];
    const log: Logger = pino(
      { level: "info" },
      new Writable({
        write(chunk, _encoding, done) {
          logs.push(String(chunk));
          done();
        },
      }),
    );
    let needed = true;
    setup = {
      needed: () => needed,
      key: "the-key-envhooks-logged",
      webUrl: github.webUrl,
      apiUrl: github.baseUrl,
      envFile: join(folder, ".env"),
      manifestFile: fileURLToPath(new URL("../../app.yml", import.meta.url)),
      generatedApiToken: GENERATED_TOKEN,
      async connect(credentials) {
        needed = false;
        await host.reconnect({
          baseUrl: github.baseUrl,
          appId: credentials.appId,
          privateKey: credentials.privateKey,
          webhookSecret: credentials.webhookSecret,
          clientId: credentials.clientId,
          clientSecret: credentials.clientSecret,
        });
      },
    };
    host = await hostEnvhooks(
      (settings) =>
        startEnvhooks({
          db: store.db,
          queue: store.queue,
          log,
          apiToken: GENERATED_TOKEN,
          allowPrivateUrls: true,
          secrets: createSecretBox([TEST_SECRET_KEY]),
          github: settings,
          setup,
          Octokit: ProbotOctokit.defaults((instance: Record<string, any>) => ({
            ...instance,
            retry: { enabled: false },
            throttle: { ...instance.throttle, enabled: false },
          })),
        }),
      { baseUrl: github.baseUrl, appId: undefined, privateKey: undefined, webhookSecret: undefined },
    );
    server = await serveOnLoopback({ fetch: (request: Request) => host.fetch(request) });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await host?.current().stop();
    await github?.stop();
    await store?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it("registers the App from /setup on GitHub and comes back connected, with the install link and the operator token once", async () => {
    const watched = await browser.newPage(server.origin, { alsoAllow: [github.webUrl] });
    const { page } = watched;
    await page.goto(`${server.origin}/setup?key=${setup.key}`);
    // The key leaves the address bar once the browser holds it.
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe("/setup");
    await expect
      .poll(() => page.getByRole("heading", { level: 1 }).textContent())
      .toBe("Register envhooks on GitHub");
    expect(await page.locator("#webhook-url").textContent()).toBe(`${server.origin}/api/github/webhooks`);
    await watched.screenshot("setup");
    // Another browser with the same link (the key is bound to the first) is told so.
    const elsewhere = await browser.newPage(server.origin);
    await elsewhere.page.goto(`${server.origin}/setup?key=${setup.key}`);
    expect(await elsewhere.page.getByRole("heading", { level: 1 }).textContent()).toBe(
      "Setup is open in another browser",
    );
    // Chromium logs the 403 answer as a console error: that one only.
    expect(elsewhere.errors).toEqual([expect.stringContaining("status of 403")]);
    await elsewhere.context.close();

    await page.getByRole("button", { name: "Register on GitHub" }).click();
    await page.waitForURL(`${server.origin}/setup/callback?**`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe(
      "envhooks is connected to GitHub",
    );
    const registered = github.registeredApps[0];
    expect(registered?.owner).toBe("user");
    expect(registered?.manifest.redirect_url).toBe(`${server.origin}/setup/callback`);
    expect(github.callsTo(/^\/api\/v3\/app-manifests\/[^/]+\/conversions$/)).toHaveLength(1);
    expect(await page.locator("#install-link").getAttribute("href")).toBe(
      `${github.webUrl}/apps/${registered?.slug}/installations/new`,
    );
    expect(await page.locator("#operator-token").textContent()).toBe(GENERATED_TOKEN);
    await watched.screenshot("setup-done");

    expect(statSync(setup.envFile).mode & 0o777).toBe(0o600);
    const kept = parseEnv(readFileSync(setup.envFile, "utf8"));
    expect(kept.APP_ID).toBe(String(registered?.id));
    expect(kept.PRIVATE_KEY).toBe(github.privateKey);
    installedSecret = kept.WEBHOOK_SECRET ?? "";
    expect(installedSecret).toBe(registered?.webhookSecret);

    // Connected without a restart: a push signed with the App's new secret is accepted.
    const body = JSON.stringify(pushToBranch("feature"));
    const accepted = await fetch(`${server.origin}/api/github/webhooks`, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": crypto.randomUUID(),
        "x-hub-signature-256": await sign(installedSecret, body),
      },
    });
    expect(accepted.status).toBe(202);

    // Shown once: setup is over.
    await page.goto(`${server.origin}/setup`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("envhooks is set up");
    expect(await page.content()).not.toContain(GENERATED_TOKEN);
    watched.expectClean();
    await watched.context.close();
  });

  it("signs in with GitHub: a pull user reads their repository, may not write, and signs out", async () => {
    github.addUser({
      login: "octo-reader",
      id: 501,
      installations: [
        {
          id: 41,
          account: "Codertocat",
          repositories: [{ full_name: REPO, permissions: repositoryPermissions("pull") }],
        },
      ],
    });
    github.signedInAs = "octo-reader";
    const watched = await browser.newPage(server.origin, { alsoAllow: [github.webUrl] });
    const { page } = watched;
    await page.goto(`${server.origin}/login?next=${encodeURIComponent("/")}`);
    await watched.screenshot("login");
    await page.getByRole("link", { name: "Sign in with GitHub" }).click();
    await page.waitForURL(`${server.origin}/`);
    await expect.poll(() => page.getByText("Signed in as").textContent()).toContain("octo-reader");
    expect(github.callsTo(/^\/login\/oauth\/access_token$/)).toHaveLength(1);
    expect(github.callsTo(/^\/api\/v3\/user\/installations\/41\/repositories$/)).toHaveLength(1);

    // The browser's own cookie, through the API: reading works, writing is refused for a pull user.
    const csrf = await page.locator('form[action="/logout"] input[name="_csrf"]').inputValue();
    const read = await watched.context.request.get(`${server.origin}/api/projects/${REPO}/integrations`);
    expect(read.status()).toBe(200);
    const write = await watched.context.request.post(`${server.origin}/api/projects/${REPO}/integrations`, {
      headers: { "x-envhooks-csrf": csrf, "content-type": "application/json" },
      data: { type: "webhook", url: "http://127.0.0.1:9/hook" },
    });
    expect(write.status()).toBe(403);
    // A form without its _csrf is refused with a page that says why.
    const forged = await watched.context.request.post(`${server.origin}/logout`, { form: { nothing: "" } });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain("security token (<code>_csrf</code>) is missing");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${server.origin}/login`);
    expect(
      (await watched.context.request.get(`${server.origin}/api/projects/${REPO}/integrations`)).status(),
    ).toBe(401);
    watched.expectClean();
    await watched.context.close();
  });

  it("signs in with the operator token after a wrong one, and goes back to the page asked for", async () => {
    const watched = await browser.newPage(server.origin, { viewport: { width: 390, height: 844 } });
    const { page } = watched;
    await page.goto(`${server.origin}/login?next=${encodeURIComponent("/?from=test")}`);
    await page.getByLabel(/Operator token/).fill("ehk_wrong");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect
      .poll(() => page.locator("#login-problem").textContent())
      .toContain("That token is not valid");
    expect(await page.getByLabel(/Operator token/).getAttribute("aria-invalid")).toBe("true");
    await watched.screenshot("login-refused");
    // Chromium logs the 401 answer as a console error ("Failed to load resource"): that one, and only
    // that one, is expected here.
    expect(watched.errors).toEqual([expect.stringContaining("status of 401")]);
    watched.errors.splice(0);
    await page.getByLabel(/Operator token/).fill(GENERATED_TOKEN);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${server.origin}/?from=test`);
    await expect.poll(() => page.getByText("Signed in as").textContent()).toContain("the operator");
    watched.expectClean();
    await watched.context.close();
  });
});
