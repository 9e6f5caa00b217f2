import { Hono } from "hono";
import { html } from "hono/html";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderPage } from "../../src/web/layout.ts";
import { assetRoutes } from "../../src/web/pages/serve-assets.ts";
import { browserSkipReason, launchBrowser, serveOnLoopback, type TestBrowser } from "../helpers/browser.ts";

// The layout alone, around a page that also tries to load something from another origin: the harness
// must see that request (and the CSP refuse it), and a signed-in header shows who and a sign-out form.
describe.skipIf(browserSkipReason())("layout in a browser", { timeout: 120_000 }, () => {
  let browser: TestBrowser;
  let server: Awaited<ReturnType<typeof serveOnLoopback>>;

  beforeAll(async () => {
    const app = new Hono();
    app.route("/", assetRoutes());
    app.get("/plain", (c) => renderPage(c, { title: "Plain", body: html`<h1>Plain</h1><p>Hello</p>` }));
    app.get("/signed-in", (c) => {
      c.set("principal", { kind: "operator" });
      c.set("session" as never, { id: "s", csrf: "csrf-token" } as never);
      return renderPage(c, { title: "Signed", body: html`<h1>Signed</h1>`, current: "projects" });
    });
    app.get("/leaky", (c) =>
      renderPage(c, {
        title: "Leaky",
        body: html`<h1>Leaky</h1><img src="https://example.com/x.png" alt="x" />`,
      }),
    );
    server = await serveOnLoopback(app);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("has a skip link, one main landmark, local CSS, and dark mode from the system", async () => {
    const watched = await browser.newPage(server.origin, { colorScheme: "dark" });
    await watched.page.goto(`${server.origin}/plain`);
    expect(await watched.page.title()).toBe("Plain · envhooks");
    expect(await watched.page.locator("main").count()).toBe(1);
    await watched.page.keyboard.press("Tab");
    expect(await watched.page.evaluate("document.activeElement?.textContent")).toBe("Skip to content");
    const background = await watched.page.evaluate("getComputedStyle(document.body).backgroundColor");
    expect(background).toBe("rgb(13, 17, 23)");
    watched.expectClean();
    await watched.context.close();
  });

  it("shows who is signed in and a sign-out form carrying the CSRF token", async () => {
    const watched = await browser.newPage(server.origin, { viewport: { width: 390, height: 844 } });
    await watched.page.goto(`${server.origin}/signed-in`);
    await expect.poll(() => watched.page.getByText("Signed in as").textContent()).toContain("the operator");
    expect(await watched.page.locator('form[action="/logout"] input[name="_csrf"]').inputValue()).toBe(
      "csrf-token",
    );
    expect(await watched.page.getByRole("link", { name: "Projects" }).getAttribute("aria-current")).toBe(
      "page",
    );
    watched.expectClean();
    await watched.context.close();
  });

  it("records (and refuses) a request to another origin", async () => {
    const watched = await browser.newPage(server.origin);
    await watched.page.goto(`${server.origin}/leaky`);
    await watched.page.waitForLoadState("load");
    expect(() => watched.expectClean()).toThrow();
    await watched.context.close();
  });
});
