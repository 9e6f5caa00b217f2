import { existsSync, mkdirSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { expect } from "vitest";

/** Debian's chromium package (.ci/run installs it). */
export const CHROMIUM = process.env.ENVHOOKS_CHROMIUM ?? "/usr/bin/chromium";
const SCREENSHOTS = join(import.meta.dirname, "..", "..", "test-artifacts", "screenshots");

/**
 * Why the browser tests of a file are skipped, or undefined when they run. In CI (`CI=true`) they
 * always run, so a browser that cannot start fails them instead of hiding.
 */
export function browserSkipReason(): string | undefined {
  if (process.env.CI === "true" || existsSync(CHROMIUM)) return undefined;
  return `${CHROMIUM} is missing: browser tests skipped (apt-get install chromium; .ci/run does)`;
}
const reason = browserSkipReason();
if (reason) console.warn(`[envhooks tests] ${reason}`);

/** A page under watch: what it logged as errors and what it asked of other origins. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Console errors and uncaught exceptions, as text. */
  errors: string[];
  /** Every URL the page requested outside `origin` (each was refused). */
  offOrigin: string[];
  /** Saves `test-artifacts/screenshots/<name>.png` (the whole page). */
  screenshot(name: string): Promise<void>;
  /**
   * Fails the test if the page logged an error or asked for another origin since the last call.
   * `statuses`: HTTP error statuses the step meant to get (a refused form answers 400), which
   * chromium logs as "Failed to load resource".
   */
  expectClean(options?: { statuses?: number[] }): void;
}

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (own cookies) and page; requests outside `origin` are refused and recorded. */
  newPage(
    origin: string,
    options?: {
      viewport?: { width: number; height: number };
      colorScheme?: "light" | "dark";
      /** The viewer's time zone (the machine's by default). */
      timezoneId?: string;
      /** Other origins the test sends the browser to on purpose (the fake GitHub of setup and sign-in). */
      alsoAllow?: string[];
    },
  ): Promise<WatchedPage>;
  close(): Promise<void>;
}

/**
 * Starts one headless chromium for a test file. `launch` gives it a fresh user-data-dir of its own
 * (playwright makes a temporary profile and removes it on close; it refuses `--user-data-dir`).
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    browser,
    async newPage(origin, options = {}) {
      const context = await browser.newContext({
        viewport: options.viewport ?? { width: 1280, height: 800 },
        colorScheme: options.colorScheme ?? "light",
        ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}),
      });
      const errors: string[] = [];
      const offOrigin: string[] = [];
      await context.route("**/*", (route) => {
        const url = route.request().url();
        const at = new URL(url).origin;
        if (
          url.startsWith("data:") ||
          url.startsWith("blob:") ||
          at === origin ||
          options.alsoAllow?.includes(at)
        )
          return route.continue();
        offOrigin.push(url);
        return route.abort("blockedbyclient");
      });
      const page = await context.newPage();
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(`console: ${message.text()} (${message.location().url})`);
      });
      page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
      return {
        page,
        context,
        errors,
        offOrigin,
        async screenshot(name) {
          await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
        },
        expectClean({ statuses = [] } = {}) {
          const unexpected = errors.filter((error) => {
            const status = /the server responded with a status of (\d+)/.exec(error)?.[1];
            return !(status && statuses.includes(Number(status)));
          });
          const asked = [...offOrigin];
          errors.length = 0;
          offOrigin.length = 0;
          expect(asked, "requests to another origin").toEqual([]);
          expect(unexpected, "console errors").toEqual([]);
        },
      };
    },
    async close() {
      await browser.close();
    },
  };
}

/** Serves a Hono app on loopback (a free port, or `port`), as a browser needs a real server. */
export async function serveOnLoopback(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  port = 0,
): Promise<{ origin: string; close(): Promise<void> }> {
  const server: ServerType = await new Promise((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port }, () => resolve(started));
  });
  const address = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        // Server-sent event streams stay open: end them rather than wait.
        if ("closeAllConnections" in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port free right now (for a server whose URL must be known before it starts). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
