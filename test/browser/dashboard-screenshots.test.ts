import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pushTo, pushToBranch } from "../fixtures/github-events.ts";
import {
  browserSkipReason,
  freePort,
  launchBrowser,
  serveOnLoopback,
  type TestBrowser,
} from "../helpers/browser.ts";
import { Receiver } from "../helpers/receiver.ts";
import { STORES } from "../helpers/stores.ts";
import { API_TOKEN, eventually, startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const PGLITE = STORES.find((kind) => kind.name === "pglite") ?? STORES[0];
const OUT = join(import.meta.dirname, "..", "..", "docs", "screenshots");
const REPO = "octo-org/web-shop";
const WIDTHS = [390, 1366] as const;
const THEMES = ["light", "dark"] as const;

// Not a test: `scripts/dashboard-screenshots.sh` (ENVHOOKS_SCREENSHOTS=1) saves the project,
// projects, integration and owner-wide pages at 390 and 1366 px, light and dark, into
// docs/screenshots/<page>-<width>-<theme>.png, against a store filled with a few pushes, a healthy
// and a failing integration. Each page still fails on a console error or another origin.
describe.skipIf(browserSkipReason() || process.env.ENVHOOKS_SCREENSHOTS !== "1")(
  "dashboard screenshots",
  { timeout: 300_000 },
  () => {
    let envhooks: TestEnvhooks;
    let ok: Receiver;
    let down: Receiver;
    let server: Awaited<ReturnType<typeof serveOnLoopback>>;
    let browser: TestBrowser;
    let origin: string;
    const pages: Array<[string, string]> = [];

    beforeAll(async () => {
      if (!PGLITE) throw new Error("no PGlite store kind");
      ok = await new Receiver().start();
      ok.answer = () => ({ status: 200, delayMs: 40 });
      down = await new Receiver().start();
      down.answer = () => ({ status: 503, body: "maintenance" });
      const port = await freePort();
      origin = `http://127.0.0.1:${port}`;
      envhooks = await startTestEnvhooks(PGLITE, { publicUrl: origin });
      server = await serveOnLoopback(envhooks.app, port);
      const add = async (path: string, body: Record<string, unknown>) =>
        (await (await envhooks.api(path, { body })).json()) as { id: string };
      const deploys = await add(`/api/projects/${REPO}/integrations`, {
        type: "webhook",
        url: ok.url,
        name: "Staging deploys",
      });
      const chat = await add(`/api/projects/${REPO}/integrations`, {
        type: "webhook",
        url: down.url,
        format: "kudu",
        retry_schedule: [0, 0, 0, 0, 0],
      });
      const owner = await add("/api/owners/octo-org/integrations", {
        type: "webhook",
        url: ok.url,
        name: "Every repository",
        results: ["failure"],
      });
      for (let n = 1; n <= 4; n++) await envhooks.deliver("push", pushTo(REPO, n));
      const feature = pushToBranch("feature/cart", { before: "0".repeat(40), after: "f".repeat(40) });
      (feature as { repository: unknown }).repository = (
        pushTo(REPO, 9) as { repository: unknown }
      ).repository;
      await envhooks.deliver("push", feature);
      await envhooks.deliver("push", pushTo("octo-org/docs", 1));
      await eventually(async () => {
        const { rows } = await envhooks.store.db.query("SELECT 1 FROM deliveries WHERE state = 'pending'");
        return rows.length === 0;
      }, 60_000);
      const project = `/projects/${REPO}`;
      pages.push(
        ["projects", "/"],
        ["project", project],
        ["project-before-first-event", "/projects/octo-org/new-site"],
        ["integration", `${project}/integrations/${deploys.id}`],
        ["integration-failing", `${project}/integrations/${chat.id}`],
        ["integration-form", `${project}/integrations/new`],
        ["integration-edit", `${project}/integrations/${deploys.id}/edit`],
        ["integration-delete", `${project}/integrations/${deploys.id}/delete`],
        ["owner-integrations", "/owners/octo-org/integrations"],
        ["owner-integration", `/owners/octo-org/integrations/${owner.id}`],
        ["owner-integration-form", "/owners/octo-org/integrations/new"],
      );
      browser = await launchBrowser();
      mkdirSync(OUT, { recursive: true });
    }, 300_000);
    afterAll(async () => {
      await browser?.close();
      await server?.close();
      await envhooks?.close();
      await ok?.stop();
      await down?.stop();
    });

    it("saves every page at both widths, in both themes", async () => {
      for (const width of WIDTHS) {
        for (const theme of THEMES) {
          const watched = await browser.newPage(origin, {
            viewport: { width, height: width === 390 ? 844 : 900 },
            colorScheme: theme,
          });
          await watched.page.goto(`${origin}/login`);
          await watched.page.getByLabel(/Operator token/).fill(API_TOKEN);
          await watched.page.getByRole("button", { name: "Sign in" }).click();
          await watched.page.waitForURL(`${origin}/`);
          for (const [name, path] of pages) {
            await watched.page.goto(`${origin}${path}`);
            // Let the page script turn times into "… ago" and the first live patches land.
            await watched.page.waitForTimeout(600);
            await watched.page.screenshot({
              path: join(OUT, `${name}-${width}-${theme}.png`),
              fullPage: true,
            });
            watched.expectClean();
          }
          await watched.context.close();
        }
      }
      expect(pages.length).toBeGreaterThan(0);
    });
  },
);
