import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pullRequest, pushCreatingMaster, pushTo, pushToBranch, REPO } from "../fixtures/github-events.ts";
import {
  browserSkipReason,
  freePort,
  launchBrowser,
  serveOnLoopback,
  type TestBrowser,
  type WatchedPage,
} from "../helpers/browser.ts";
import { FakeGithub, repositoryPermissions } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const PGLITE = STORES.find((kind) => kind.name === "pglite") ?? STORES[0];
const PROJECT = `/projects/${REPO}`;
const OAUTH_CLIENT = { clientId: "Iv1.dashboardtest", clientSecret: "dashboard-test-client-secret" };

// The dashboard in chromium, on the embedded store: one envhooks (with the fake GitHub, so pull
// requests get envhooks' comment), one server, one browser, one signed-in page going through every
// page and action. Each step fails on a console error or a request to another origin, and saves a
// screenshot to test-artifacts/screenshots.
describe.skipIf(browserSkipReason())("the dashboard in a browser", { timeout: 180_000 }, () => {
  let github: FakeGithub;
  let envhooks: TestEnvhooks;
  let receiver: Receiver;
  let failing: Receiver;
  let server: Awaited<ReturnType<typeof serveOnLoopback>>;
  let browser: TestBrowser;
  let origin: string;
  let signedIn: WatchedPage;

  async function githubSettled() {
    await eventually(async () => {
      const events = await envhooks.store.db.query("SELECT 1 FROM github_events WHERE state = 'pending'");
      const tasks = await envhooks.store.db.query("SELECT 1 FROM github_tasks WHERE state = 'pending'");
      return events.rows.length === 0 && tasks.rows.length === 0;
    }, 30_000);
  }

  beforeAll(async () => {
    if (!PGLITE) throw new Error("no PGlite store kind");
    github = await new FakeGithub().start();
    receiver = await new Receiver().start();
    failing = await new Receiver().start();
    failing.answer = () => ({ status: 503, body: "receiver down" });
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    github.oauthClient = OAUTH_CLIENT;
    envhooks = await startTestEnvhooks(PGLITE, { github, publicUrl: origin, oauthClient: OAUTH_CLIENT });
    server = await serveOnLoopback(envhooks.app, port);
    await envhooks.deliver("push", pushCreatingMaster());
    await envhooks.deliver("pull_request", pullRequest("opened"));
    await githubSettled();
    browser = await launchBrowser();
  }, 180_000);
  beforeEach(() => {
    // What a failed step left is its own failure, not the next step's.
    signedIn?.errors.splice(0);
    signedIn?.offOrigin.splice(0);
  });
  afterAll(async () => {
    await signedIn?.context.close();
    await browser?.close();
    await server?.close();
    await envhooks?.close();
    await github?.stop();
    await receiver?.stop();
    await failing?.stop();
  });

  it("takes the pull request comment's link through sign-in to the activity page", async () => {
    const comment = github.comments.get(2)?.[0]?.body ?? "";
    const link = /\((http:\/\/127\.0\.0\.1:\d+\/activities\/[a-z2-7]{13})\)/.exec(comment)?.[1];
    expect(link, comment).toBeTruthy();
    const activityId = link?.split("/").at(-1) ?? "";
    signedIn = await browser.newPage(origin);
    const { page } = signedIn;
    await page.goto(link ?? "");
    expect(new URL(page.url()).pathname).toBe("/login");
    await signedIn.screenshot("login");
    await page.getByLabel(/Operator token/).fill(API_TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${origin}/activities/${activityId}`);
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toContain(activityId);
    expect(await page.locator("#activity-summary").textContent()).toContain("pr-2");
    await signedIn.screenshot("activity");
    signedIn.expectClean();
  });

  it("takes a GitHub user from the comment's link through Sign in with GitHub and back; they see their repositories only", async () => {
    const comment = github.comments.get(2)?.[0]?.body ?? "";
    const link = /\((http:\/\/127\.0\.0\.1:\d+\/activities\/[a-z2-7]{13})\)/.exec(comment)?.[1] ?? "";
    github.addUser({
      login: "monalisa",
      id: 31,
      installations: [
        {
          id: 1,
          account: "Codertocat",
          repositories: [{ full_name: REPO, permissions: repositoryPermissions("pull") }],
        },
      ],
    });
    github.signedInAs = "monalisa";
    const visitor = await browser.newPage(origin, { alsoAllow: [github.webUrl] });
    const { page } = visitor;
    await page.goto(link);
    await page.getByRole("link", { name: "Sign in with GitHub" }).click();
    await page.waitForURL(link);
    await expect.poll(() => page.getByText("Signed in as").textContent()).toContain("monalisa");
    expect(await page.locator("#activity-summary").textContent()).toContain("pr-2");
    // Read access: the project, without its buttons; not a repository they cannot access, no tokens.
    await envhooks.deliver("push", pushTo("someone/private", 1));
    await eventually(async () => (await (await envhooks.api("/api/projects")).json()).length === 2);
    await page.goto(`${origin}/`);
    expect(await page.locator("#project-cards > li").allTextContents()).toEqual([
      expect.stringContaining(REPO),
    ]);
    await page.goto(`${origin}${PROJECT}`);
    expect(await page.getByRole("button", { name: /^Redeploy/ }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "Tokens" }).count()).toBe(0);
    visitor.expectClean();
    await visitor.context.close();
  });

  it("follows a running activity's log and progress live, as the deploy runner reports them", async () => {
    const { page } = signedIn;
    const repo = "runners/app";
    github.configFiles.set(repo, "runner: external\n");
    await envhooks.deliver("push", pushTo(repo, 1));
    const activity = await eventually(async () => {
      const listed = await (await envhooks.api(`/api/projects/${repo}/activities?limit=1`)).json();
      return listed.items?.[0]?.state === "pending" && listed.items[0];
    }, 30_000);
    const streaming = page.waitForResponse((response) =>
      response.url().endsWith(`/activities/${activity.id}/live`),
    );
    await page.goto(`${origin}/activities/${activity.id}`);
    await streaming;
    expect(await page.locator("#activity-summary").textContent()).toContain("pending");
    const report = (body: unknown) =>
      envhooks.api(`/api/activities/${activity.id}/progress`, { body }).then((response) => {
        expect(response.status).toBe(200);
      });
    await report({ state: "in_progress", completion_percent: 40, log: "building step 1 of 3" });
    await expect
      .poll(() => page.locator("#activity-log").textContent(), { timeout: 20_000 })
      .toContain("building step 1 of 3");
    expect(await page.locator("#activity-summary").textContent()).toContain("40 %");
    await signedIn.screenshot("activity-running");
    // A slow receiver: the delivery shows pending first, then delivered, without a reload.
    const slow = await new Receiver().start();
    slow.answer = () => ({ status: 200, body: "ok", delayMs: 1500 });
    await envhooks.api(`/api/projects/${repo}/integrations`, {
      body: { type: "webhook", url: slow.url, states: ["complete"] },
    });
    await report({ state: "complete", log: "deployed" });
    await expect
      .poll(() => page.locator("#activity-summary").textContent(), { timeout: 20_000 })
      .toContain("succeeded");
    expect(await page.locator("#activity-log").textContent()).toContain("deployed");
    await expect
      .poll(() => page.locator("#activity-deliveries").textContent(), { timeout: 20_000 })
      .toContain("succeeded, 200");
    await slow.stop();
    signedIn.expectClean();
  });

  it("lists projects, and opens a project with its environments, activity, integrations and GitHub events", async () => {
    const { page } = signedIn;
    await page.goto(`${origin}/`);
    await page.getByRole("link", { name: REPO }).click();
    await page.waitForURL(`${origin}${PROJECT}`);
    await expect.poll(() => page.locator("#environment-pr-2").textContent()).toContain("Pull request #2");
    expect(await page.locator("#environment-master").textContent()).toContain("default branch");
    await page.goto(`${origin}/`);
    await signedIn.screenshot("projects");
    await page.goto(`${origin}${PROJECT}`);
    await signedIn.screenshot("project");
    signedIn.expectClean();
  });

  it("shows a new activity in the stream without a reload (server-sent events)", async () => {
    const { page } = signedIn;
    // The stream opens as the page loads: wait for it (its first answer) before pushing.
    const streaming = page.waitForResponse((response) => response.url().includes(`${PROJECT}/live`));
    await page.goto(`${origin}${PROJECT}`);
    await streaming;
    await page.evaluate("window.notReloaded = true");
    await envhooks.deliver("push", pushToBranch("feature/live"), { deliveryId: "d-live-push" });
    await expect
      .poll(() => page.locator("#activity-rows").textContent(), { timeout: 20_000 })
      .toContain("feature/live");
    // The GitHub events table, like GitHub's Recent Deliveries, takes the new delivery too.
    await expect
      .poll(() => page.locator("#github-events").textContent(), { timeout: 20_000 })
      .toContain("d-live-push");
    expect(await page.evaluate("window.notReloaded")).toBe(true);
    signedIn.expectClean();
  });

  it("shows a new project on the projects page, and a new environment on the project page, without a reload", async () => {
    const { page } = signedIn;
    const projectsStream = page.waitForResponse((response) => response.url().endsWith("/projects/live"));
    await page.goto(`${origin}/`);
    await projectsStream;
    await page.evaluate("window.notReloaded = true");
    await envhooks.deliver("push", pushTo("newcomer/site", 1));
    await expect
      .poll(() => page.locator("#project-cards").textContent(), { timeout: 20_000 })
      .toContain("newcomer/site");

    const projectStream = page.waitForResponse((response) => response.url().includes(`${PROJECT}/live`));
    await page.goto(`${origin}${PROJECT}`);
    await projectStream;
    await page.evaluate("window.notReloaded = true");
    await envhooks.deliver("push", pushToBranch("feature/appearing"));
    await expect
      .poll(() => page.locator("#environments").textContent(), { timeout: 20_000 })
      .toContain("feature/appearing");
    expect(await page.evaluate("window.notReloaded")).toBe(true);
    signedIn.expectClean();
  });

  it("adds an integration: the API's validation message shows next to its field", async () => {
    const { page } = signedIn;
    await page.goto(`${origin}${PROJECT}`);
    await page.getByRole("link", { name: "Add an integration" }).click();
    await page.getByLabel("URL", { exact: true }).fill("not a url");
    await page.getByRole("button", { name: "Add the integration" }).click();
    const url = page.getByLabel("URL", { exact: true });
    await expect.poll(() => url.getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#url-error").textContent()).toBe("must be an http:// or https:// URL");
    expect(await url.getAttribute("aria-describedby")).toContain("url-error");
    // The keyboard lands on the field to fix.
    await expect.poll(() => page.evaluate("document.activeElement?.id")).toBe("url");
    await signedIn.screenshot("integration-form-error");
    await url.fill(receiver.url);
    await page.getByRole("button", { name: "Add the integration" }).click();
    // The POST redirects to the integration's page, which shows the secret this once.
    await expect.poll(() => page.locator("#added-heading").textContent()).toBe("Integration added");
    expect(await page.locator("#integration-secret").textContent()).toMatch(/^whsec_/);
    await signedIn.screenshot("integration-added");
    // Reloading sends no form again: the same integration, its secret no longer shown.
    const integrations = async () =>
      (await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json()).length;
    const added = await integrations();
    await page.reload();
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toMatch(/^webhook → /);
    expect(await page.locator("#integration-secret").count()).toBe(0);
    expect(await integrations()).toBe(added);
    signedIn.expectClean({ statuses: [400] });
  });

  it("tests, pauses, resumes, edits and redeploys from the project page", async () => {
    const { page } = signedIn;
    const [integration] = await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json();
    await page.goto(`${origin}${PROJECT}`);
    await page.getByRole("button", { name: `Test webhook integration ${integration.id}` }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("delivered");
    expect(await page.locator(".attempts").textContent()).toContain("succeeded, 200");
    await signedIn.screenshot("integration-test");

    await page.goto(`${origin}${PROJECT}`);
    await page.getByRole("button", { name: `Pause webhook integration ${integration.id}` }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("paused");
    expect(await page.locator(`#integration-${integration.id}`).textContent()).toContain("paused");
    await page.getByRole("button", { name: `Resume webhook integration ${integration.id}` }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("active again");

    await page.getByRole("link", { name: `Edit webhook integration ${integration.id}` }).click();
    await signedIn.screenshot("integration-edit");
    await page.getByLabel("Activity types").fill("environment.*");
    await page.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("saved");
    expect(await page.locator(`#integration-${integration.id}`).textContent()).toContain("environment.*");

    await page.getByRole("button", { name: "Redeploy master" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Redeploy started");
    await expect.poll(() => page.locator("#activity-rows").textContent()).toContain("environment.redeploy");
    signedIn.expectClean();
  });

  it("opens an integration's deliveries, a delivery with its attempts, and redelivers it", async () => {
    const { page } = signedIn;
    const [integration] = await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json();
    await page.goto(`${origin}${PROJECT}/integrations/${integration.id}`);
    await signedIn.screenshot("integration");
    await page.locator("td a.mono").first().click();
    await page.waitForURL(/\/deliveries\/msg_/);
    expect(await page.locator(".attempts").textContent()).toContain("Attempt 1");
    await signedIn.screenshot("delivery");
    // A slow answer: the page opens while the delivery is pending again.
    receiver.answer = () => ({ status: 200, body: "ok", delayMs: 1500 });
    await page.getByRole("button", { name: "Redeliver" }).click();
    await expect
      .poll(() => page.getByRole("status").first().textContent())
      .toContain("Queued to be sent again");
    // Its new attempt appears while the page is open.
    await expect
      .poll(() => page.locator(".attempts").textContent(), { timeout: 20_000 })
      .toContain("Attempt 2");
    signedIn.expectClean();
  });

  it("bulk-redelivers failed deliveries: the count first, then progress live", async () => {
    const { page } = signedIn;
    const created = await (
      await envhooks.api(`/api/projects/${REPO}/integrations`, {
        body: { type: "webhook", url: failing.url, states: ["complete"], retry_schedule: [0, 0, 0, 0, 0] },
      })
    ).json();
    const since = new Date(Date.now() - 60_000);
    await envhooks.deliver("push", pushToBranch("feature/a"));
    await envhooks.deliver("push", pushToBranch("feature/b"));
    await eventually(async () => {
      const page = await (
        await envhooks.api(`/api/projects/${REPO}/integrations/${created.id}/deliveries?status=failed`)
      ).json();
      return page.items.length === 2;
    }, 30_000);
    await page.goto(`${origin}${PROJECT}/integrations/${created.id}`);
    await page.getByLabel(/created since/).fill(since.toISOString().slice(0, 19));
    await page.getByRole("button", { name: "Count them" }).click();
    await expect
      .poll(() => page.locator("#redeliver-count").textContent())
      .toContain("This will send 2 failed");
    await signedIn.screenshot("redeliver-count");
    // Back, slowly: the progress page opens before they are all sent.
    failing.answer = () => ({ status: 200, body: "back", delayMs: 2000 });
    await page.getByRole("button", { name: "Redeliver 2 deliveries" }).click();
    await page.waitForURL(/redeliver\/progress/);
    await expect
      .poll(() => page.locator("#redeliver-progress").textContent(), { timeout: 30_000 })
      .toContain("2 of 2 sent again — done");
    await signedIn.screenshot("redeliver-progress");
    signedIn.expectClean();
  });

  it("shows a GitHub delivery's payload on demand", async () => {
    const { page } = signedIn;
    await page.goto(`${origin}${PROJECT}`);
    await page.locator('a[href*="/github-events/"]').first().click();
    await page.waitForURL(/\/github-events\//);
    expect(await page.locator("#event-payload").textContent()).toContain('"repository"');
    await signedIn.screenshot("github-event");
    signedIn.expectClean();
  });

  it("creates a token shown once, and revokes it", async () => {
    const { page } = signedIn;
    await page.goto(`${origin}/tokens`);
    await page.getByLabel("Project").fill(REPO);
    await page.getByLabel("Name").fill("deploy runner");
    await page.getByLabel("Access").selectOption("write");
    await page.getByRole("button", { name: "Create the token" }).click();
    await expect.poll(() => page.locator("#new-token").textContent()).toMatch(/^ehk_/);
    await signedIn.screenshot("tokens");
    await page.getByRole("button", { name: /^Revoke deploy runner/ }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("revoked");
    signedIn.expectClean();
  });

  it("deletes an integration", async () => {
    const { page } = signedIn;
    const [integration] = await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json();
    await page.goto(`${origin}${PROJECT}`);
    await page.getByRole("link", { name: `Delete webhook integration ${integration.id}` }).click();
    // A page asks first, naming the integration and what goes with it; keeping it is a link away.
    await expect
      .poll(() => page.getByRole("heading", { level: 1 }).textContent())
      .toMatch(/^Delete the integration webhook → .+\?$/);
    expect(await page.locator("#delete-what").textContent()).toMatch(/delivery log: \d+ deliver/);
    await signedIn.screenshot("integration-delete");
    await page.getByRole("button", { name: /^Delete the integration and its \d+ deliver/ }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("deleted");
    expect(await page.locator(`#integration-${integration.id}`).count()).toBe(0);
    signedIn.expectClean();
  });

  it("serves the API reference from envhooks", async () => {
    const { page } = signedIn;
    await page.goto(`${origin}/docs`);
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toContain("envhooks API");
    await signedIn.screenshot("docs");
    signedIn.expectClean();
  });

  it("answers a page that does not exist with the API's message", async () => {
    const { page } = signedIn;
    const response = await page.goto(`${origin}/activities/aaaaaaaaaaaaa`);
    expect(response?.status()).toBe(404);
    expect(await page.getByRole("alert").textContent()).toContain("No activity aaaaaaaaaaaaa");
    await signedIn.screenshot("not-found");
    signedIn.expectClean({ statuses: [404] });
  });

  it("fits a phone, in dark mode", async () => {
    const phone = await browser.newPage(origin, {
      viewport: { width: 390, height: 844 },
      colorScheme: "dark",
    });
    await phone.context.addCookies(await signedIn.context.cookies());
    await phone.page.goto(`${origin}${PROJECT}`);
    const overflow = await phone.page.evaluate("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.screenshot("project-phone-dark");
    phone.expectClean();
    await phone.context.close();
  });
});
