import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pushCreatingMaster, pushTo, REPO } from "../fixtures/github-events.ts";
import {
  browserSkipReason,
  freePort,
  launchBrowser,
  serveOnLoopback,
  type TestBrowser,
  type WatchedPage,
} from "../helpers/browser.ts";
import { FakeGithub } from "../helpers/fake-github.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const PGLITE = STORES.find((kind) => kind.name === "pglite") ?? STORES[0];

interface Delivery {
  id: string;
  activity_id: string;
  state: string;
  attempts: number;
  next_attempt_at: string | null;
  created_at: string;
}

// The dashboard's detail pages in chromium (issue 27, dash-b's part): readable times, copy buttons,
// search, the GitHub event page. One envhooks on the embedded store, a receiver that answers 503 (so a
// delivery waits for its next attempt, ten minutes away, so no retry comes during the tests), one signed-in page. Every step fails on a
// console error or a request to another origin.
describe.skipIf(browserSkipReason())(
  "the dashboard's detail pages in a browser",
  { timeout: 180_000 },
  () => {
    let github: FakeGithub;
    let envhooks: TestEnvhooks;
    let failing: Receiver;
    let server: Awaited<ReturnType<typeof serveOnLoopback>>;
    let browser: TestBrowser;
    let origin: string;
    let signedIn: WatchedPage;
    let pending: Delivery;

    beforeAll(async () => {
      if (!PGLITE) throw new Error("no PGlite store kind");
      github = await new FakeGithub().start();
      failing = await new Receiver().start();
      failing.answer = () => ({ status: 503, body: "receiver down" });
      const port = await freePort();
      origin = `http://127.0.0.1:${port}`;
      envhooks = await startTestEnvhooks(PGLITE, { github, publicUrl: origin, retryDelaySeconds: 120 });
      server = await serveOnLoopback(envhooks.app, port);
      const added = await envhooks.api(`/api/projects/${REPO}/integrations`, {
        body: { type: "webhook", url: failing.url, retry_schedule: [600, 600, 600, 600, 600] },
      });
      expect(added.status).toBe(201);
      await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "gh-detail-1" });
      await eventually(async () => {
        const listed = await (await envhooks.api(`/api/projects/${REPO}/activities?limit=1`)).json();
        const activity = listed.items?.[0];
        if (!activity) return false;
        const deliveries: Delivery[] = await (
          await envhooks.api(`/api/activities/${activity.id}/deliveries`)
        ).json();
        const tried = deliveries.find((delivery) => delivery.attempts >= 1 && delivery.next_attempt_at);
        if (tried) pending = tried;
        return Boolean(tried);
      }, 30_000);
      browser = await launchBrowser();
      signedIn = await browser.newPage(origin, { timezoneId: "America/New_York" });
      await signedIn.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
      const { page } = signedIn;
      await page.goto(`${origin}/login`);
      await page.getByLabel(/Operator token/).fill(API_TOKEN);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(`${origin}/`);
    }, 180_000);
    beforeEach(() => {
      signedIn?.errors.splice(0);
      signedIn?.offOrigin.splice(0);
    });
    afterAll(async () => {
      await signedIn?.context.close();
      await browser?.close();
      await server?.close();
      await envhooks?.close();
      await github?.stop();
      await failing?.stop();
    });

    it("shows times as '… ago' and the next attempt as 'in …', with the exact time in the viewer's zone and UTC on hover", async () => {
      const { page } = signedIn;
      await page.goto(`${origin}/deliveries/${pending.id}`);
      const created = page.locator("#delivery-details dt:text-is('Created') + dd time");
      // The page's own script rewrites the server's UTC text.
      await expect.poll(() => created.textContent()).toMatch(/^(just now|\d+ s ago)$/);
      expect(await created.getAttribute("datetime")).toBe(pending.created_at);
      const title = (await created.getAttribute("title")) ?? "";
      expect(title).toContain(`${pending.created_at.slice(0, 19).replace("T", " ")} UTC`);
      // The viewer's zone first (this browser's is New York's), then UTC.
      expect(title).toMatch(/^.+ (EST|EDT|GMT-5|GMT-4) · \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
      const next = page.locator(".next-attempt");
      await expect.poll(() => next.textContent()).toMatch(/^next attempt in (\d+ s|\d+ min)$/);
      expect(await next.locator("time").getAttribute("datetime")).toBe(pending.next_attempt_at);
      // It stays fresh: the "ago" moves on without a reload.
      const before = await created.textContent();
      await expect.poll(() => created.textContent(), { timeout: 10_000 }).not.toBe(before);
      // Durations read in ms or s, never a bare number.
      expect(await page.locator("#delivery-details .attempts dd").nth(1).textContent()).toMatch(
        /^\d+ ms$|^\d+(\.\d)? s$/,
      );
      await signedIn.screenshot("delivery-times");
      signedIn.expectClean();
    });

    it("copies a delivery's id and its body with one click", async () => {
      const { page } = signedIn;
      await page.goto(`${origin}/deliveries/${pending.id}`);
      await page.getByRole("button", { name: "Copy id" }).click();
      await expect.poll(() => page.evaluate<string>("navigator.clipboard.readText()")).toBe(pending.id);
      await expect.poll(() => page.getByRole("button", { name: "Copied" }).count()).toBe(1);
      await page.getByRole("button", { name: "Copy body" }).click();
      const body = await page.evaluate<string>("navigator.clipboard.readText()");
      expect(JSON.parse(body).id).toBe(pending.activity_id);
      signedIn.expectClean();
    });

    it("shows a delivery under Project / Integration, linked to its integration and its activity", async () => {
      const { page } = signedIn;
      await page.goto(`${origin}/deliveries/${pending.id}`);
      const crumbs = page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link");
      const host = new URL(failing.url).host;
      expect(await crumbs.allTextContents()).toEqual(["Projects", REPO, `webhook → ${host}`]);
      await page
        .locator("#delivery-details")
        .getByRole("link", { name: /environment\.branch/ })
        .click();
      await page.waitForURL(`${origin}/activities/${pending.activity_id}`);
      await page.goBack();
      await crumbs.nth(2).click();
      await page.waitForURL(new RegExp(`/projects/${REPO}/integrations/[a-z2-7]{13}$`));
      expect(await page.getByRole("heading", { level: 1 }).textContent()).toContain(`webhook → ${host}`);
      signedIn.expectClean();
    });

    it("leads an activity with each integration's outcome, named and linked, attempts collapsed below", async () => {
      const { page } = signedIn;
      await page.goto(`${origin}/activities/${pending.activity_id}`);
      const host = new URL(failing.url).host;
      const row = page.locator("#activity-deliveries tbody tr").first();
      expect(await row.getByRole("link", { name: `webhook → ${host}` }).getAttribute("href")).toMatch(
        new RegExp(`^/projects/${REPO}/integrations/[a-z2-7]{13}$`),
      );
      expect(await row.textContent()).toContain("pending");
      expect(await row.textContent()).toContain("503");
      expect(await row.textContent()).not.toContain("503 HTTP 503");
      // The attempts are there, folded.
      const attempts = page.locator(`#attempts-${pending.id}`);
      expect(await attempts.getAttribute("open")).toBeNull();
      expect(await attempts.locator(".attempts").isVisible()).toBe(false);
      await attempts.locator("summary").first().click();
      expect(await attempts.locator(".attempts").isVisible()).toBe(true);
      signedIn.expectClean();
    });

    it("shows a failed activity in red, with no progress bar", async () => {
      const { page } = signedIn;
      const repo = "runners/failing";
      github.configFiles.set(repo, "runner: external\n");
      await envhooks.deliver("push", pushTo(repo, 1));
      const activity = await eventually(async () => {
        const listed = await (await envhooks.api(`/api/projects/${repo}/activities?limit=1`)).json();
        return listed.items?.[0]?.state === "pending" && listed.items[0];
      }, 30_000);
      const reported = await envhooks.api(`/api/activities/${activity.id}/progress`, {
        body: { state: "complete", result: "failure", log: "build failed" },
      });
      expect(reported.status).toBe(200);
      await page.goto(`${origin}/activities/${activity.id}`);
      const summary = page.locator("#activity-summary");
      expect(await summary.locator(".badge.bad").textContent()).toBe("failed");
      expect(await summary.locator("progress").count()).toBe(0);
      signedIn.expectClean();
    });

    it("shows a GitHub delivery like Recent Deliveries, and redelivers it for the operator", async () => {
      const { page } = signedIn;
      const path = `/projects/${REPO}/github-events/gh-detail-1`;
      await page.goto(`${origin}${path}`);
      const facts = page.locator("dl.facts");
      expect(await facts.textContent()).toContain("applied at the first try");
      expect(await page.locator("#event-headers").textContent()).toContain("X-GitHub-Delivery: gh-detail-1");
      await page.locator("#event-activities").getByRole("link", { name: "environment.branch" }).click();
      await page.waitForURL(`${origin}/activities/${pending.activity_id}`);
      await page.goto(`${origin}${path}`);
      await page.getByRole("button", { name: "Redeliver" }).click();
      await page.waitForURL(/\?redelivered=gh-detail-1\.redelivery-[0-9a-f]{8}$/);
      await page.getByRole("status").getByRole("link").click();
      await page.waitForURL(/github-events\/gh-detail-1\.redelivery-[0-9a-f]{8}$/);
      expect(await page.locator("dl.facts").textContent()).toContain("Redelivery of");
      // It is applied like any delivery from GitHub.
      await expect
        .poll(
          async () => {
            await page.reload();
            return page.locator("dl.facts").textContent();
          },
          { timeout: 20_000 },
        )
        .toContain("applied at the first try");
      signedIn.expectClean();
    });

    it("goes from the header's search box straight to a delivery, a branch's activity, or says nothing matches", async () => {
      const { page } = signedIn;
      await page.goto(`${origin}/`);
      const search = page.getByRole("search").getByLabel("Search");
      await search.fill(pending.id);
      await search.press("Enter");
      await page.waitForURL(`${origin}/deliveries/${pending.id}`);
      expect(await page.getByRole("heading", { level: 1 }).textContent()).toContain(pending.id);
      await page.getByRole("search").getByLabel("Search").fill("gh-detail-1");
      await page.getByRole("search").getByRole("button", { name: "Search" }).click();
      await page.waitForURL(`${origin}/projects/${REPO}/github-events/gh-detail-1`);
      await page.getByRole("search").getByLabel("Search").fill("no-such-thing");
      await page.getByRole("search").getByLabel("Search").press("Enter");
      await page.waitForURL(/\/search\?q=no-such-thing$/);
      expect(await page.getByRole("status").textContent()).toContain("Nothing matches");
      await signedIn.screenshot("search-none");
      signedIn.expectClean();
    });

    it("leaves no dead link after a Test: every activity link on the integration and the test delivery opens", async () => {
      const { page } = signedIn;
      const [integration] = await (await envhooks.api(`/api/projects/${REPO}/integrations`)).json();
      await page.goto(`${origin}/projects/${REPO}`);
      await page
        .getByRole("button", { name: new RegExp(`^Test webhook integration ${integration.id}`) })
        .click();
      await page.waitForURL(/\?test=/);
      const testId = new URL(page.url()).searchParams.get("test") ?? "";
      const links = async () =>
        page
          .locator('a[href^="/activities/"], a[href^="/deliveries/"]')
          .evaluateAll((anchors) => anchors.map((anchor) => anchor.getAttribute("href") ?? ""));
      const seen = [...(await links())];
      await page.goto(`${origin}/deliveries/${testId}`);
      expect(await page.locator("#delivery-details").textContent()).toContain("a sample");
      seen.push(...(await links()));
      expect(seen.length).toBeGreaterThan(0);
      for (const href of new Set(seen)) {
        const response = await page.request.get(`${origin}${href}`);
        expect(response.status(), href).toBe(200);
      }
      signedIn.expectClean({ statuses: [503] });
    });

    // ENVHOOKS_DOCS_SCREENSHOTS=1: the pages of this file for docs/screenshots, at a phone's and a
    // desktop's width, light and dark (each still watched for errors and other origins).
    it.runIf(process.env.ENVHOOKS_DOCS_SCREENSHOTS === "1")(
      "saves docs/screenshots of the detail pages",
      async () => {
        const folder = join(import.meta.dirname, "..", "..", "docs", "screenshots");
        mkdirSync(folder, { recursive: true });
        const pages: Array<[string, string, boolean]> = [
          ["delivery", `/deliveries/${pending.id}`, true],
          ["activity", `/activities/${pending.activity_id}`, true],
          ["github-event", `/projects/${REPO}/github-events/gh-detail-1`, false],
          ["tokens", "/tokens", true],
          ["alerts", "/alerts", true],
          ["search", "/search?q=master", true],
          ["api-docs", "/docs", false],
        ];
        for (const width of [390, 1366]) {
          for (const colorScheme of ["light", "dark"] as const) {
            const watched = await browser.newPage(origin, { viewport: { width, height: 900 }, colorScheme });
            await watched.page.goto(`${origin}/login`);
            await watched.page.getByLabel(/Operator token/).fill(API_TOKEN);
            await watched.page.getByRole("button", { name: "Sign in" }).click();
            await watched.page.waitForURL(`${origin}/`);
            for (const [name, path, fullPage] of pages) {
              await watched.page.goto(`${origin}${path}`);
              await watched.page.waitForLoadState("load");
              await watched.page.screenshot({
                path: join(folder, `${name}-${width}-${colorScheme}.png`),
                fullPage,
              });
            }
            watched.expectClean();
            await watched.context.close();
          }
        }
      },
    );
  },
);
