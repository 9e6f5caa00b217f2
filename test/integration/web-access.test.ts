import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { sign } from "@octokit/webhooks-methods";
import { type Logger, pino } from "pino";
import { ProbotOctokit } from "probot";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Envhooks, startEnvhooks } from "../../src/envhooks.ts";
import { hashToken } from "../../src/http/require-api-token.ts";
import { createSecretBox, type SecretBox } from "../../src/store/secret-box.ts";
import { updateEnvFile } from "../../src/web/access/env-file.ts";
import { type EnvhooksHost, hostEnvhooks } from "../../src/web/access/envhooks-host.ts";
import type { SetupDeps } from "../../src/web/access/setup.ts";
import { createSmeeChannel, forwardWebhookProxy } from "../../src/web/access/webhook-proxy.ts";
import {
  MAX_STREAMS_PER_PRINCIPAL,
  MAX_STREAMS_PER_SESSION,
  openStreams,
} from "../../src/web/pages/live-stream.ts";
import { pushToBranch } from "../fixtures/github-events.ts";
import { FakeGithub, repositoryPermissions } from "../helpers/fake-github.ts";
import { STORES, type TestStore } from "../helpers/stores.ts";
import { API_TOKEN, eventually, TEST_SECRET_KEY, WEBHOOK_SECRET } from "../helpers/test-envhooks.ts";

const CLIENT = { clientId: "Iv1.testclient", clientSecret: "test-client-secret" };
const MINUTE = 60_000;

/** A browser's cookie jar over `app.request`, following nothing: each answer is returned as it is. */
class CookieJar {
  readonly cookies = new Map<string, string>();
  /** The Set-Cookie lines of the last answer. */
  lastSetCookies: string[] = [];

  readonly app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> };
  readonly origin: string;

  /** The origin requests go to: a loopback one by default, as in local development (no ENVHOOKS_PUBLIC_URL). */
  constructor(app: CookieJar["app"], origin = "http://localhost:3000") {
    this.app = app;
    this.origin = origin;
  }

  async request(path: string, init: RequestInit & { form?: Record<string, string> } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set("cookie", [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; "));
    }
    let body = init.body;
    if (init.form) {
      headers.set("content-type", "application/x-www-form-urlencoded");
      body = new URLSearchParams(init.form).toString();
    }
    const url = path.startsWith("http") ? path : `${this.origin}${path}`;
    const response = await this.app.request(url, { ...init, headers, body: body ?? null });
    this.lastSetCookies = response.headers.getSetCookie();
    for (const line of this.lastSetCookies) {
      const [pair = ""] = line.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at);
      const value = pair.slice(at + 1);
      if (/max-age=0/i.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /** The hidden `_csrf` value of the page's (first) form. */
  static csrfOf(page: string): string {
    const value = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
    if (!value) throw new Error("no _csrf field on the page");
    return value;
  }
}

interface Harness {
  envhooks: Envhooks;
  store: TestStore;
  logs: string[];
  /** Moves the clock the sessions (and expiry) read. */
  advance(ms: number): void;
  close(): Promise<void>;
}

async function start(
  store: TestStore,
  github: FakeGithub | undefined,
  {
    secrets = createSecretBox([TEST_SECRET_KEY]),
    publicUrl,
  }: { secrets?: SecretBox; publicUrl?: string } = {},
): Promise<Harness> {
  const log = testLog();
  let clock = Date.now();
  const envhooks = await startEnvhooks({
    ...commonOptions(store, log.log, secrets, () => new Date(clock)),
    apiToken: API_TOKEN,
    publicUrl,
    github: {
      webhookSecret: WEBHOOK_SECRET,
      appId: github ? "1" : undefined,
      privateKey: github?.privateKey,
      baseUrl: github?.baseUrl,
      ...(github ? CLIENT : {}),
    },
  });
  return {
    envhooks,
    store,
    logs: log.logs,
    advance(ms) {
      clock += ms;
    },
    close: () => envhooks.stop(),
  };
}

function testLog() {
  const logs: string[] = [];
  const log: Logger = pino(
    { level: "debug" },
    new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  );
  return { log, logs };
}

function commonOptions(store: TestStore, log: Logger, secrets: SecretBox, now: () => Date) {
  return {
    db: store.db,
    queue: store.queue,
    log,
    allowPrivateUrls: true,
    secrets,
    retry: { delaySeconds: 1, backoff: false, limit: 3 },
    Octokit: ProbotOctokit.defaults((instance: Record<string, any>) => ({
      ...instance,
      retry: { enabled: false },
      throttle: { ...instance.throttle, enabled: false },
    })),
    now,
  };
}

/** envhooks as main.ts runs it before the App is registered: behind a host, with /setup. */
async function startUnconfigured(
  store: TestStore,
  github: FakeGithub,
  { publicUrl, envFileIn }: { publicUrl?: string; envFileIn?: string } = {},
): Promise<{
  host: EnvhooksHost;
  setup: SetupDeps;
  envFile: string;
  logs: string[];
  /** Moves the clock setup (the key's expiry) and sessions read. */
  advance(ms: number): void;
  close(): Promise<void>;
}> {
  let clock = Date.now();
  const folder = mkdtempSync(join(tmpdir(), "envhooks-setup-"));
  const envFile = join(envFileIn ?? folder, ".env");
  const { log, logs } = testLog();
  let needed = true;
  let apiToken: string | undefined = "generated-operator-token-0123456789abcdef";
  const setup: SetupDeps = {
    needed: () => needed,
    key: "setup-key-from-the-log",
    webUrl: github.webUrl,
    apiUrl: github.baseUrl,
    envFile,
    manifestFile: fileURLToPath(new URL("../../app.yml", import.meta.url)),
    generatedApiToken: apiToken,
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
  const host: EnvhooksHost = await hostEnvhooks(
    (githubSettings) =>
      startEnvhooks({
        ...commonOptions(store, log, createSecretBox([TEST_SECRET_KEY]), () => new Date(clock)),
        apiToken,
        github: githubSettings,
        publicUrl,
        setup,
      }),
    { baseUrl: github.baseUrl, appId: undefined, privateKey: undefined, webhookSecret: undefined },
  );
  return {
    host,
    setup,
    envFile,
    logs,
    advance(ms) {
      clock += ms;
    },
    async close() {
      apiToken = undefined;
      await host.current().stop();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** Signs in with a token through the /login form; returns the jar holding the session. */
async function signInWithToken(app: Envhooks["app"], token: string, next = "/"): Promise<CookieJar> {
  const jar = new CookieJar(app);
  const page = await jar.request(`/login?next=${encodeURIComponent(next)}`);
  expect(page.status).toBe(200);
  const signedIn = await jar.request("/login", {
    method: "POST",
    form: { _csrf: CookieJar.csrfOf(await page.text()), token, next },
  });
  expect(signedIn.status).toBe(303);
  expect(signedIn.headers.get("location")).toBe(next);
  return jar;
}

/** The CSRF token of the jar's session, as its pages' forms carry it (read from the store here). */
let csrfStore: TestStore;
async function sessionCsrf(jar: CookieJar): Promise<string> {
  const signed = decodeURIComponent(jar.cookies.get("envhooks_session") ?? "");
  const token = signed.slice(0, signed.lastIndexOf("."));
  const { rows } = await csrfStore.db.query<{ csrf: string }>(
    "SELECT csrf FROM web_sessions WHERE token_hash = $1",
    [hashToken(token)],
  );
  if (!rows[0]) throw new Error("the jar holds no live session");
  return rows[0].csrf;
}

const PROJECT = "Codertocat/Hello-World";
const OTHER = "Codertocat/other-repo";
const integrationBody = JSON.stringify({ type: "webhook", url: "http://127.0.0.1:9/hook" });

describe.each(STORES)("web access on $name", { timeout: 120_000 }, (kind) => {
  describe.skipIf(kind.skip)("sign-in", () => {
    let store: TestStore;
    let github: FakeGithub;
    let harness: Harness;

    beforeAll(async () => {
      store = await kind.open();
      csrfStore = store;
      github = await new FakeGithub().start();
      github.oauthClient = CLIENT;
      harness = await start(store, github);
    });
    afterAll(async () => {
      await harness?.close();
      await github?.stop();
      await store?.close();
    });
    afterEach(() => {
      github.calls.length = 0;
    });

    it("signs in with the operator token: cookie HttpOnly, SameSite=Lax, signed; the API accepts it, with the CSRF header for changes", async () => {
      const app = harness.envhooks.app;
      const anonymous = await app.request(`/api/projects/${PROJECT}/integrations`);
      expect(anonymous.status).toBe(401);

      const jar = await signInWithToken(app, API_TOKEN, "/projects/x?tab=1");
      const cookie = jar.lastSetCookies.find((line) => line.startsWith("envhooks_session="));
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Lax/);
      expect(cookie).toMatch(/Max-Age=604800/);
      // Plain http here: not Secure (over https it is, tested below).
      expect(cookie).not.toMatch(/Secure/);

      expect((await jar.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(200);
      const withoutCsrf = await jar.request(`/api/projects/${PROJECT}/integrations`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: integrationBody,
      });
      expect(withoutCsrf.status).toBe(403);
      expect(((await withoutCsrf.json()) as any).error.code).toBe("csrf_token_invalid");
      const csrf = await sessionCsrf(jar);
      const created = await jar.request(`/api/projects/${PROJECT}/integrations`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-envhooks-csrf": csrf },
        body: integrationBody,
      });
      expect(created.status).toBe(201);

      // A cookie whose signature does not match is no session.
      const forged = new CookieJar(app);
      const value = jar.cookies.get("envhooks_session") ?? "";
      forged.cookies.set("envhooks_session", value.replace(/\.[^.]*$/, ".AAAA"));
      expect((await forged.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(401);
    });

    it("refuses a form without _csrf with 403 and says why; a wrong token is 401 naming what to paste", async () => {
      const jar = new CookieJar(harness.envhooks.app);
      await jar.request("/login");
      const refused = await jar.request("/login", { method: "POST", form: { token: API_TOKEN } });
      expect(refused.status).toBe(403);
      expect(await refused.text()).toMatch(/security token \(<code>_csrf<\/code>\) is missing/);
      expect(jar.cookies.has("envhooks_session")).toBe(false);

      const page = await jar.request("/login");
      const wrong = await jar.request("/login", {
        method: "POST",
        form: { _csrf: CookieJar.csrfOf(await page.text()), token: "ehk_not-a-token" },
      });
      expect(wrong.status).toBe(401);
      expect(await wrong.text()).toMatch(/That token is not valid/);

      // Logout is a form too: without its _csrf it is refused and the session stays.
      const signedIn = await signInWithToken(harness.envhooks.app, API_TOKEN);
      const logout = await signedIn.request("/logout", { method: "POST", form: {} });
      expect(logout.status).toBe(403);
      expect((await signedIn.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(200);
    });

    it("reads at most 64 KB from the anonymous login form (413 naming the limit), and a token of at most 1024 characters", async () => {
      const jar = new CookieJar(harness.envhooks.app);
      const page = await jar.request("/login");
      const csrf = CookieJar.csrfOf(await page.text());
      const big = await jar.request("/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `_csrf=${csrf}&token=${"A".repeat(5 * 1024 * 1024)}`,
      });
      expect(big.status).toBe(413);
      expect(big.headers.get("cache-control")).toBe("no-store");
      expect(await big.text()).toMatch(/at most 64 KB here/);
      // Without content-length (a chunked body) the limit holds as it is read.
      const chunks = new ReadableStream({
        start(controller) {
          for (let n = 0; n < 40; n++) controller.enqueue(new TextEncoder().encode("A".repeat(4096)));
          controller.close();
        },
      });
      const streamed = await jar.request("/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: chunks,
        duplex: "half",
      } as RequestInit);
      expect(streamed.status).toBe(413);
      const long = await jar.request("/login", {
        method: "POST",
        form: { _csrf: csrf, token: "A".repeat(1025) },
      });
      expect(long.status).toBe(401);
      expect(await long.text()).toMatch(/That token is too long \(over 1024 characters\)/);
      expect(jar.cookies.has("envhooks_session")).toBe(false);
    });

    /** One token sign-in as a browser does it (the form, then its POST) from `address` behind a proxy. */
    async function attemptSignIn(jar: CookieJar, token: string, address: string): Promise<Response> {
      const headers = { "x-forwarded-for": address };
      const page = await jar.request("/login", { headers });
      return jar.request("/login", {
        method: "POST",
        headers,
        form: { _csrf: CookieJar.csrfOf(await page.text()), token },
      });
    }

    it("throttles token sign-in per client address: 10 failures, then 429 with Retry-After for any token; each failure logged without the token", async () => {
      const app = harness.envhooks.app;
      const address = "203.0.113.7";
      const jar = new CookieJar(app);
      const logged = harness.logs.length;
      for (let n = 0; n < 10; n++) {
        const wrong = await attemptSignIn(jar, `ehk_guess${n}-${crypto.randomUUID()}`, address);
        expect(wrong.status, `attempt ${n + 1}`).toBe(401);
      }
      // Even the right token waits now: the throttle does not tell a guess that worked.
      const refused = await attemptSignIn(jar, API_TOKEN, address);
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(300);
      expect(await refused.text()).toMatch(
        /Too many failed sign-ins from your address: try again in \d+ minutes?/,
      );
      expect(jar.cookies.has("envhooks_session")).toBe(false);
      // Another address is not held back.
      expect((await attemptSignIn(new CookieJar(app), API_TOKEN, "198.51.100.9")).status).toBe(303);

      const lines = harness.logs.slice(logged);
      expect(
        lines.filter((line) => /token sign-in failed/.test(line) && line.includes(address)),
      ).toHaveLength(10);
      expect(lines.filter((line) => /token sign-in throttled/.test(line))).toHaveLength(1);
      expect(lines.some((line) => line.includes("ehk_guess") || line.includes(API_TOKEN))).toBe(false);

      // Once the window has passed, the address may sign in.
      harness.advance(5 * MINUTE + 1000);
      expect((await attemptSignIn(jar, API_TOKEN, address)).status).toBe(303);
    });

    it("throttles token sign-in per token prefix, from any address: 5 failures, then 429 for that prefix only", async () => {
      const app = harness.envhooks.app;
      const known = "ehk_Kn0wnPre"; // the first 12 characters: the prefix counted
      for (let n = 0; n < 5; n++) {
        const wrong = await attemptSignIn(
          new CookieJar(app),
          `${known}${n}-${crypto.randomUUID()}`,
          `192.0.2.${n + 1}`,
        );
        expect(wrong.status, `attempt ${n + 1}`).toBe(401);
      }
      const refused = await attemptSignIn(
        new CookieJar(app),
        `${known}x-${crypto.randomUUID()}`,
        "192.0.2.50",
      );
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(await refused.text()).toMatch(/Too many failed sign-ins with this token/);
      // From that address, another token is checked as usual.
      expect((await attemptSignIn(new CookieJar(app), "ehk_other-token", "192.0.2.50")).status).toBe(401);
    });

    it("rotates the sign-in form's CSRF value at each attempt: a used pair is refused", async () => {
      const jar = new CookieJar(harness.envhooks.app);
      const page = await jar.request("/login");
      const csrf = CookieJar.csrfOf(await page.text());
      const cookie = jar.cookies.get("envhooks_login_csrf") ?? "";
      const wrong = await jar.request("/login", {
        method: "POST",
        form: { _csrf: csrf, token: "ehk_wrong-1" },
      });
      expect(wrong.status).toBe(401);
      const next = CookieJar.csrfOf(await wrong.text());
      expect(next).not.toBe(csrf);
      expect(jar.cookies.get("envhooks_login_csrf")).not.toBe(cookie);
      // The same pair again (a script replaying it) is refused.
      const replay = new CookieJar(harness.envhooks.app);
      replay.cookies.set("envhooks_login_csrf", cookie);
      const replayed = await replay.request("/login", {
        method: "POST",
        form: { _csrf: csrf, token: "ehk_wrong-2" },
      });
      expect(replayed.status).toBe(403);
      // The new pair works, once.
      const again = await jar.request("/login", { method: "POST", form: { _csrf: next, token: API_TOKEN } });
      expect(again.status).toBe(303);
    });

    it("caps live streams per principal across its sessions: the next is 429 saying whose, another principal still gets one", async () => {
      const app = harness.envhooks.app;
      const open = async (jar: CookieJar) => {
        const response = await jar.request("/projects/live");
        return { response, reader: response.status === 200 ? response.body?.getReader() : undefined };
      };
      const streams: Array<Awaited<ReturnType<typeof open>>> = [];
      const before = openStreams();
      try {
        // Sessions are free to open: signing in again and again must not add streams.
        const sessions: CookieJar[] = [];
        for (let n = 0; n <= MAX_STREAMS_PER_PRINCIPAL / MAX_STREAMS_PER_SESSION; n++) {
          sessions.push(await signInWithToken(app, API_TOKEN));
        }
        for (const jar of sessions.slice(0, -1)) {
          for (let n = 0; n < MAX_STREAMS_PER_SESSION; n++) streams.push(await open(jar));
        }
        expect(streams.map((stream) => stream.response.status)).toEqual(
          Array(MAX_STREAMS_PER_PRINCIPAL).fill(200),
        );
        const last = sessions.at(-1) as CookieJar;
        const refused = await open(last);
        expect(refused.response.status).toBe(429);
        expect(await refused.response.text()).toMatch(
          new RegExp(
            `Too many live updates open for the operator across all sessions \\(at most ${MAX_STREAMS_PER_PRINCIPAL}\\)`,
          ),
        );

        // Another principal (a project token) is not held back by this one.
        const operator = sessions[0] as CookieJar;
        const created = await operator.request("/api/tokens", {
          method: "POST",
          headers: { "content-type": "application/json", "x-envhooks-csrf": await sessionCsrf(operator) },
          body: JSON.stringify({ project: PROJECT, access: "read" }),
        });
        const { token } = (await created.json()) as { token: string };
        const other = await open(await signInWithToken(app, token));
        streams.push(other);
        expect(other.response.status).toBe(200);

        // A stream that ends is counted out: the principal may open one more.
        await streams[0]?.reader?.cancel();
        await eventually(async () => openStreams() < before + MAX_STREAMS_PER_PRINCIPAL + 1);
        const again = await open(last);
        streams.push(again);
        expect(again.response.status).toBe(200);
      } finally {
        for (const stream of streams) await stream.reader?.cancel().catch(() => undefined);
        await eventually(async () => openStreams() === before);
      }
    });

    it("signing in again ends the browser's previous session (its row and its cookie)", async () => {
      const jar = new CookieJar(harness.envhooks.app);
      const page = await jar.request("/login");
      const csrf = CookieJar.csrfOf(await page.text());
      // A second sign-in form, opened in another tab before the first was sent (its own CSRF pair:
      // the cookie is the last one the tabs received).
      const tab = new CookieJar(harness.envhooks.app);
      const second = CookieJar.csrfOf(await (await tab.request("/login")).text());
      const secondCookie = tab.cookies.get("envhooks_login_csrf") ?? "";
      expect(
        (await jar.request("/login", { method: "POST", form: { _csrf: csrf, token: API_TOKEN } })).status,
      ).toBe(303);
      const first = jar.cookies.get("envhooks_session") ?? "";
      const count = async () => (await store.db.query("SELECT 1 FROM web_sessions")).rows.length;
      const before = await count();
      // The other tab's form is sent.
      jar.cookies.set("envhooks_login_csrf", secondCookie);
      expect(
        (await jar.request("/login", { method: "POST", form: { _csrf: second, token: API_TOKEN } })).status,
      ).toBe(303);
      expect(jar.cookies.get("envhooks_session")).not.toBe(first);
      expect(await count()).toBeLessThanOrEqual(before);
      const replay = new CookieJar(harness.envhooks.app);
      replay.cookies.set("envhooks_session", first);
      expect((await replay.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(401);
      expect((await jar.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(200);
    });

    it("logs out: the session is gone from the store, and its cookie no longer works", async () => {
      const jar = await signInWithToken(harness.envhooks.app, API_TOKEN);
      const stolen = jar.cookies.get("envhooks_session") ?? "";
      const csrf = await sessionCsrf(jar);
      const out = await jar.request("/logout", { method: "POST", form: { _csrf: csrf } });
      expect(out.status).toBe(303);
      expect(out.headers.get("location")).toBe("/login");
      expect(jar.cookies.has("envhooks_session")).toBe(false);
      const replay = new CookieJar(harness.envhooks.app);
      replay.cookies.set("envhooks_session", stolen);
      expect((await replay.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(401);
    });

    it("sends `next` only to a path of envhooks: another origin is refused", async () => {
      for (const next of [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/%0d%0a",
        // Paths the URL parser normalises to `//evil.example`.
        "/.//evil.example/phish",
        "/..//evil.example",
        "/a/..//evil.example",
        "/%2e%2e//evil.example",
        "/%2E//evil.example",
      ]) {
        const jar = await signInWithToken(harness.envhooks.app, API_TOKEN, "/");
        // Already signed in, /login sends on at once.
        const answer = await jar.request(`/login?next=${encodeURIComponent(next)}`);
        expect(answer.status).toBe(303);
        const location = answer.headers.get("location") ?? "";
        expect(location, next).toBe(next.includes("evil") || !next.startsWith("/") ? "/" : location);
        expect(location.startsWith("/") && !location.startsWith("//") && !location.startsWith("/\\")).toBe(
          true,
        );
        expect(new URL(location, "http://envhooks.test").origin).toBe("http://envhooks.test");

        // Signing in through the form carries `next` in a hidden field: the same check applies.
        const fresh = new CookieJar(harness.envhooks.app);
        const page = await fresh.request(`/login?next=${encodeURIComponent(next)}`);
        const signedIn = await fresh.request("/login", {
          method: "POST",
          form: { _csrf: CookieJar.csrfOf(await page.text()), token: API_TOKEN, next },
        });
        expect(signedIn.status).toBe(303);
        const after = signedIn.headers.get("location") ?? "";
        expect(new URL(after, "http://envhooks.test").origin, next).toBe("http://envhooks.test");
      }
    });

    it("a project token signs in to its project only (read-only token: no writes); revoking it ends the session", async () => {
      const app = harness.envhooks.app;
      const operator = await signInWithToken(app, API_TOKEN);
      const operatorCsrf = await sessionCsrf(operator);
      const created = await operator.request("/api/tokens", {
        method: "POST",
        headers: { "content-type": "application/json", "x-envhooks-csrf": operatorCsrf },
        body: JSON.stringify({ project: PROJECT, access: "read" }),
      });
      expect(created.status).toBe(201);
      const { id, token } = (await created.json()) as { id: string; token: string };

      const jar = await signInWithToken(app, token);
      expect((await jar.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(200);
      expect((await jar.request(`/api/projects/${OTHER}/integrations`)).status).toBe(403);
      const csrf = await sessionCsrf(jar);
      const write = await jar.request(`/api/projects/${PROJECT}/integrations`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-envhooks-csrf": csrf },
        body: integrationBody,
      });
      expect(write.status).toBe(403);
      expect(await store.db.query("SELECT 1 FROM web_sessions WHERE token_id = $1", [id])).toMatchObject({
        rows: [{}],
      });

      const revoked = await operator.request(`/api/tokens/${id}`, {
        method: "DELETE",
        headers: { "x-envhooks-csrf": operatorCsrf },
      });
      expect(revoked.status).toBe(200);
      expect((await jar.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(401);
      expect(
        (await store.db.query("SELECT 1 FROM web_sessions WHERE token_id = $1", [id])).rows,
      ).toHaveLength(0);
    });

    it("ends a session after 8 hours unused, and 7 days after sign-in however used", async () => {
      const app = harness.envhooks.app;
      const idle = await signInWithToken(app, API_TOKEN);
      harness.advance(7 * 3600_000);
      expect((await idle.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(200);
      // Used 7 h in: its idle expiry moved on, so 7 h later it still works...
      harness.advance(7 * 3600_000);
      expect((await idle.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(200);
      // ...but 8 h without use end it.
      harness.advance(8 * 3600_000 + MINUTE);
      expect((await idle.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(401);

      const busy = await signInWithToken(app, API_TOKEN);
      for (let hours = 0; hours < 7 * 24; hours += 6) {
        expect((await busy.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(200);
        harness.advance(6 * 3600_000);
      }
      harness.advance(MINUTE);
      expect((await busy.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(401);
    });

    it("signs in with GitHub: a pull user sees only their repositories and may not write; a push user may", async () => {
      const app = harness.envhooks.app;
      github.addUser({
        login: "reader",
        id: 11,
        installations: [
          {
            id: 7,
            account: "Codertocat",
            repositories: [{ full_name: PROJECT, permissions: repositoryPermissions("pull") }],
          },
        ],
      });
      github.addUser({
        login: "writer",
        id: 12,
        installations: [
          {
            id: 7,
            account: "Codertocat",
            repositories: [{ full_name: PROJECT, permissions: repositoryPermissions("push") }],
          },
        ],
      });

      const reader = await signInWithGithub(app, github, "reader", "/activities/abc");
      expect(github.callsTo(/^\/login\/oauth\/access_token$/)).toHaveLength(1);
      expect(github.callsTo(/^\/api\/v3\/user$/)).toHaveLength(1);
      expect(github.callsTo(/^\/api\/v3\/user\/installations$/)).toHaveLength(1);
      expect(github.callsTo(/^\/api\/v3\/user\/installations\/7\/repositories$/)).toHaveLength(1);
      expect((await reader.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(200);
      const elsewhere = await reader.request(`/api/projects/${OTHER}/integrations`);
      expect(elsewhere.status).toBe(403);
      const csrf = await sessionCsrf(reader);
      const write = await reader.request(`/api/projects/${PROJECT}/integrations`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-envhooks-csrf": csrf },
        body: integrationBody,
      });
      expect(write.status).toBe(403);
      expect(((await write.json()) as any).error.message).toMatch(
        /reader may only read codertocat\/hello-world/,
      );
      expect((await reader.request("/api/tokens")).status).toBe(403);

      const writer = await signInWithGithub(app, github, "writer");
      const written = await writer.request(`/api/projects/${PROJECT}/integrations`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-envhooks-csrf": await sessionCsrf(writer) },
        body: integrationBody,
      });
      expect(written.status).toBe(201);

      // The user's GitHub token is kept only sealed with the secret box.
      const { rows } = await store.db.query<{ user_token: string }>(
        "SELECT user_token FROM web_sessions WHERE login = 'writer'",
      );
      expect(rows[0]?.user_token).toMatch(/^enc:v1:/);
      expect(rows[0]?.user_token).not.toMatch(/ghu_/);
    });

    it("asks GitHub again after 10 minutes: a new permission applies; a token GitHub refuses ends the session", async () => {
      const app = harness.envhooks.app;
      const user = github.addUser({
        login: "changing",
        id: 13,
        installations: [
          {
            id: 8,
            account: "Codertocat",
            repositories: [{ full_name: PROJECT, permissions: repositoryPermissions("pull") }],
          },
        ],
      });
      const jar = await signInWithGithub(app, github, "changing");
      const csrf = await sessionCsrf(jar);
      const tryWrite = () =>
        jar.request(`/api/projects/${PROJECT}/integrations`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-envhooks-csrf": csrf },
          body: integrationBody,
        });
      expect((await tryWrite()).status).toBe(403);

      // Promoted on GitHub: within 10 minutes envhooks has not asked again...
      const repository = user.installations[0]?.repositories[0];
      if (repository) repository.permissions = repositoryPermissions("maintain");
      github.calls.length = 0;
      harness.advance(9 * MINUTE);
      expect((await tryWrite()).status).toBe(403);
      expect(github.callsTo(/\/user\/installations/)).toHaveLength(0);
      // ...after 10 it has.
      harness.advance(2 * MINUTE);
      const promoted = await tryWrite();
      expect(promoted.status, await promoted.clone().text()).toBe(201);
      expect(github.callsTo(/^\/api\/v3\/user\/installations$/)).toHaveLength(1);

      github.revokeUserTokens("changing");
      harness.advance(11 * MINUTE);
      expect((await jar.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(401);
      expect(github.callsTo(/^\/api\/v3\/user\/installations$/).at(-1)?.status).toBe(401);
      const { rows } = await store.db.query("SELECT 1 FROM web_sessions WHERE login = 'changing'");
      expect(rows).toHaveLength(0);
    });

    it("fails closed when GitHub will not list the user's installations (403): the session ends", async () => {
      const app = harness.envhooks.app;
      const user = github.addUser({
        login: "demoted",
        id: 17,
        installations: [
          {
            id: 11,
            account: "Codertocat",
            repositories: [{ full_name: PROJECT, permissions: repositoryPermissions("push") }],
          },
        ],
      });
      const jar = await signInWithGithub(app, github, "demoted");
      expect((await jar.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(200);
      // Removed from the repository, and GitHub answers 403 (SSO enforcement, a spent rate limit).
      user.installations[0]?.repositories.splice(0);
      github.fail("GET", /\/user\/installations$/, 403, 1);
      github.calls.length = 0;
      harness.advance(11 * MINUTE);
      expect((await jar.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(401);
      expect(github.callsTo(/^\/api\/v3\/user\/installations$/)[0]?.status).toBe(403);
      const { rows } = await store.db.query("SELECT 1 FROM web_sessions WHERE login = 'demoted'");
      expect(rows).toHaveLength(0);
    });

    it("while GitHub cannot be asked: permissions last 20 minutes after GitHub confirmed them, then nothing; asked again 30 s apart", async () => {
      const app = harness.envhooks.app;
      github.addUser({
        login: "outage",
        id: 18,
        installations: [
          {
            id: 12,
            account: "Codertocat",
            repositories: [{ full_name: PROJECT, permissions: repositoryPermissions("push") }],
          },
        ],
      });
      const jar = await signInWithGithub(app, github, "outage");
      const read = async () => (await jar.request(`/api/projects/${PROJECT}/integrations`)).status;
      const asked = () => github.callsTo(/^\/api\/v3\/user\/installations$/).length;
      github.fail("GET", /\/user\/installations$/, 502, 3);
      github.calls.length = 0;
      harness.advance(11 * MINUTE);
      expect(await read()).toBe(200); // confirmed 11 minutes ago: kept
      expect(asked()).toBe(1);
      // Not asked again at each request: 30 s apart.
      expect(await read()).toBe(200);
      harness.advance(10_000);
      expect(await read()).toBe(200);
      expect(asked()).toBe(1);
      harness.advance(25_000);
      expect(await read()).toBe(200);
      expect(asked()).toBe(2);
      // 20 minutes without GitHub confirming: no access, though the session stays open.
      harness.advance(9 * MINUTE);
      expect(await read()).toBe(403);
      expect(asked()).toBe(3);
      const { rows } = await store.db.query("SELECT 1 FROM web_sessions WHERE login = 'outage'");
      expect(rows).toHaveLength(1);
      // GitHub answers again: access is back.
      harness.advance(31_000);
      expect(await read()).toBe(200);
      expect(asked()).toBe(4);
    });

    it("refreshes an expiring user token, so the session outlives GitHub's 8-hour token; a refused refresh ends it", async () => {
      const app = harness.envhooks.app;
      github.userTokensExpire = true;
      try {
        github.addUser({
          login: "expiring",
          id: 16,
          installations: [
            {
              id: 10,
              account: "Codertocat",
              repositories: [{ full_name: PROJECT, permissions: repositoryPermissions("push") }],
            },
          ],
        });
        const jar = await signInWithGithub(app, github, "expiring");
        const { rows } = await store.db.query<{ refresh_token: string; token_expires_at: Date }>(
          "SELECT refresh_token, token_expires_at FROM web_sessions WHERE login = 'expiring'",
        );
        expect(rows[0]?.refresh_token).toMatch(/^enc:v1:/);
        expect(rows[0]?.refresh_token).not.toMatch(/ghr_/);
        const refreshes = () =>
          github
            .callsTo(/^\/login\/oauth\/access_token$/)
            .filter((call) => call.body?.grant_type === "refresh_token");

        // GitHub stops taking the token before it was due: the refresh token gets a new one.
        github.expireUserTokens("expiring");
        harness.advance(11 * MINUTE);
        expect((await jar.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(200);
        expect(refreshes()).toHaveLength(1);
        // Used every 2 hours, the session reaches the new token's 8 hours: refreshed before GitHub is asked.
        for (let n = 0; n < 4; n++) {
          harness.advance(2 * 3600_000);
          expect((await jar.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(200);
        }
        expect(refreshes()).toHaveLength(2);
        expect(refreshes().every((call) => call.status === 200)).toBe(true);

        // Authorization revoked on GitHub: token and refresh token refused, the session ends.
        github.revokeUserTokens("expiring");
        harness.advance(11 * MINUTE);
        expect((await jar.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(401);
        expect(refreshes()).toHaveLength(3);
        const left = await store.db.query("SELECT 1 FROM web_sessions WHERE login = 'expiring'");
        expect(left.rows).toHaveLength(0);
      } finally {
        github.userTokensExpire = false;
      }
    });

    it("refuses an OAuth callback whose state is not this browser's", async () => {
      github.addUser({ login: "victim", id: 14, installations: [] });
      const attacker = new CookieJar(harness.envhooks.app);
      const start = await attacker.request("/login/github?next=/");
      github.signedInAs = "victim";
      const authorize = await fetch(start.headers.get("location") ?? "", { redirect: "manual" });
      const callback = new URL(authorize.headers.get("location") ?? "");
      // Another browser (no state cookie) opens the callback.
      const other = new CookieJar(harness.envhooks.app);
      const answer = await other.request(callback.pathname + callback.search);
      expect(answer.status).toBe(403);
      expect(await answer.text()).toMatch(/its state does not match this browser/);
      expect(other.cookies.has("envhooks_session")).toBe(false);
    });

    it("checks an OAuth callback's state before its error, and shows none of GitHub's (or anyone's) words", async () => {
      const phish = "Your session expired. Paste your operator token at https://evil.example";
      const forged = new CookieJar(harness.envhooks.app);
      const answer = await forged.request(
        `/login/github/callback?error=x&error_description=${encodeURIComponent(phish)}`,
      );
      expect(answer.status).toBe(403);
      const page = await answer.text();
      expect(page).toMatch(/its state does not match this browser/);
      expect(page).not.toContain("evil.example");

      // With this browser's state, an error is told in envhooks' own words.
      const jar = new CookieJar(harness.envhooks.app);
      const start = await jar.request("/login/github?next=/");
      const state = new URL(start.headers.get("location") ?? "").searchParams.get("state") ?? "";
      const denied = await jar.request(
        `/login/github/callback?error=access_denied&state=${state}&error_description=${encodeURIComponent(phish)}`,
      );
      expect(denied.status).toBe(403);
      const text = await denied.text();
      expect(text).toMatch(/the authorization was cancelled/);
      expect(text).not.toContain("evil.example");
    });

    it("without ENVHOOKS_PUBLIC_URL, takes the OAuth redirect_uri from a loopback Host only: another Host is refused, naming the variable", async () => {
      const app = harness.envhooks.app;
      for (const origin of ["http://evil.example", "http://10.0.0.5:3000", "http://localhost.evil.example"]) {
        const jar = new CookieJar(app, origin);
        const refused = await jar.request("/login/github?next=/");
        expect(refused.status, origin).toBe(421);
        expect(refused.headers.get("location")).toBeNull();
        expect(await refused.text()).toMatch(/Set ENVHOOKS_PUBLIC_URL/);
        // A callback reached by that name exchanges nothing with GitHub either.
        const state = jar.cookies.get("envhooks_oauth");
        expect(state).toBeUndefined();
        expect((await jar.request("/login/github/callback?code=x&state=y")).status).toBe(421);
      }
      expect(github.callsTo(/^\/login\/oauth\/access_token$/)).toHaveLength(0);
      for (const origin of ["http://localhost:3000", "http://127.0.0.1:8080", "http://[::1]:3000"]) {
        const jar = new CookieJar(app, origin);
        const start = await jar.request("/login/github?next=/");
        expect(start.status, origin).toBe(302);
        const authorize = new URL(start.headers.get("location") ?? "");
        expect(authorize.searchParams.get("redirect_uri")).toBe(`${origin}/login/github/callback`);
      }
    });
  });

  describe.skipIf(kind.skip)("with ENVHOOKS_PUBLIC_URL", () => {
    it("takes the OAuth redirect_uri from ENVHOOKS_PUBLIC_URL, whatever the Host header says", async () => {
      const store = await kind.open();
      const github = await new FakeGithub().start();
      github.oauthClient = CLIENT;
      const publicUrl = "https://envhooks.example.test";
      const harness = await start(store, github, { publicUrl });
      try {
        const jar = new CookieJar(harness.envhooks.app, "http://evil.example");
        const started = await jar.request("/login/github?next=/");
        expect(started.status).toBe(302);
        const authorize = new URL(started.headers.get("location") ?? "");
        expect(authorize.searchParams.get("redirect_uri")).toBe(`${publicUrl}/login/github/callback`);
      } finally {
        await harness.close();
        await github.stop();
        await store.close();
      }
    });
  });

  describe.skipIf(kind.skip)("setup", () => {
    it("registers the App from app.yml through the manifest flow, keeps the credentials (mode 600) and connects them without a restart", async () => {
      const store = await kind.open();
      const github = await new FakeGithub().start();
      const publicUrl = "https://envhooks.example.test";
      const running = await startUnconfigured(store, github, { publicUrl });
      try {
        const jar = new CookieJar(
          { request: (path, init) => running.host.fetch(new Request(path, init)) },
          publicUrl,
        );
        // Without the key from the log, or with another, /setup refuses.
        expect((await jar.request("/setup")).status).toBe(403);
        const wrong = await jar.request("/setup?key=guessed");
        expect(wrong.status).toBe(403);
        expect(await wrong.text()).toMatch(/one-time key that envhooks printed in its log/);
        const opened = await jar.request(`/setup?key=${running.setup.key}`);
        expect(opened.status).toBe(303);
        expect(opened.headers.get("location")).toBe("/setup");
        const page = await (await jar.request("/setup")).text();
        expect(page).toMatch(/Register on GitHub/);

        // The personal account's form posts the manifest to GitHub.
        const action =
          /<form method="post" action="([^"]+)">/.exec(page)?.[1]?.replaceAll("&amp;", "&") ?? "";
        expect(action.startsWith(`${github.webUrl}/settings/apps/new?state=`)).toBe(true);
        const manifestText = /name="manifest" value="([^"]+)"/.exec(page)?.[1] ?? "";
        const manifest = JSON.parse(
          manifestText
            .replaceAll("&quot;", '"')
            .replaceAll("&#39;", "'")
            .replaceAll("&lt;", "<")
            .replaceAll("&gt;", ">")
            .replaceAll("&amp;", "&"),
        );
        expect(manifest).toMatchObject({
          name: "envhooks",
          hook_attributes: { url: `${publicUrl}/api/github/webhooks` },
          redirect_url: `${publicUrl}/setup/callback`,
          callback_urls: [`${publicUrl}/login/github/callback`],
          request_oauth_on_install: false,
          public: false,
          default_events: [
            "create",
            "delete",
            "issue_comment",
            "pull_request",
            "push",
            "repository",
            "workflow_run",
            "workflow_job",
            "check_suite",
            "check_run",
            "status",
          ],
          default_permissions: {
            contents: "write",
            deployments: "write",
            statuses: "write",
            checks: "read",
            pull_requests: "write",
            metadata: "read",
            actions: "write",
          },
        });
        // An organisation's form goes to the organisation's settings.
        const orgPage = await (await jar.request("/setup?org=acme-inc")).text();
        expect(orgPage).toContain(`action="${github.webUrl}/organizations/acme-inc/settings/apps/new?state=`);

        const confirmed = await fetch(action, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ manifest: JSON.stringify(manifest) }).toString(),
          redirect: "manual",
        });
        expect(confirmed.status).toBe(302);
        const back = new URL(confirmed.headers.get("location") ?? "");
        expect(back.origin + back.pathname).toBe(`${publicUrl}/setup/callback`);
        const done = await jar.request(back.pathname + back.search);
        const donePage = await done.text();
        expect(done.status, donePage).toBe(200);
        const registered = github.registeredApps[0];
        expect(github.callsTo(/^\/api\/v3\/app-manifests\/[^/]+\/conversions$/)).toHaveLength(1);
        expect(donePage).toContain(`href="${github.webUrl}/apps/${registered?.slug}/installations/new"`);
        expect(donePage).toContain("generated-operator-token-0123456789abcdef");

        // .env, mode 600, as Node's --env-file reads it.
        expect(statSync(running.envFile).mode & 0o777).toBe(0o600);
        const kept = parseEnv(readFileSync(running.envFile, "utf8"));
        expect(kept).toMatchObject({
          APP_ID: String(registered?.id),
          WEBHOOK_SECRET: registered?.webhookSecret,
          GITHUB_CLIENT_ID: registered?.clientId,
          GITHUB_CLIENT_SECRET: registered?.clientSecret,
        });
        expect(kept.PRIVATE_KEY).toBe(github.privateKey);

        // Connected without a restart: a push signed with the new secret is accepted, the old one's refused.
        expect(running.host.current().githubConnected).toBe(true);
        const deliver = async (secret: string) => {
          const body = JSON.stringify(pushToBranch("feature"));
          return running.host.fetch(
            new Request(`${publicUrl}/api/github/webhooks`, {
              method: "POST",
              body,
              headers: {
                "content-type": "application/json",
                "x-github-event": "push",
                "x-github-delivery": crypto.randomUUID(),
                "x-hub-signature-256": await sign(secret, body),
              },
            }),
          );
        };
        expect((await deliver(registered?.webhookSecret ?? "")).status).toBe(202);
        expect((await deliver(WEBHOOK_SECRET)).status).toBe(401);

        // Setup is over: the page says so, and the callback cannot be used again.
        expect(await (await jar.request("/setup")).text()).toMatch(/envhooks is set up/);
        expect(await (await jar.request(back.pathname + back.search)).text()).not.toContain(
          "generated-operator-token",
        );
      } finally {
        await running.close();
        await github.stop();
        await store.close();
      }
    });
  });

  describe.skipIf(kind.skip)("the setup key", () => {
    /** Opens the key's link in `jar` and walks to GitHub's confirmation: the callback's path. */
    async function confirmOnGithub(jar: CookieJar, github: FakeGithub): Promise<string> {
      const page = await (await jar.request("/setup")).text();
      const action =
        /<form method="post" action="([^"]*settings\/apps\/new[^"]*)">/
          .exec(page)?.[1]
          ?.replaceAll("&amp;", "&") ?? "";
      const manifest = /name="manifest" value="([^"]+)"/.exec(page)?.[1]?.replaceAll("&quot;", '"') ?? "";
      expect(action.startsWith(github.webUrl)).toBe(true);
      const confirmed = await fetch(action, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ manifest }).toString(),
        redirect: "manual",
      });
      const back = new URL(confirmed.headers.get("location") ?? "");
      return back.pathname + back.search;
    }

    it("is bound to the first browser that opens it, and ends an hour after envhooks logged it", async () => {
      const store = await kind.open();
      const github = await new FakeGithub().start();
      const running = await startUnconfigured(store, github);
      try {
        const served = {
          request: (path: string, init?: RequestInit) => running.host.fetch(new Request(path, init)),
        };
        const first = new CookieJar(served);
        expect((await first.request(`/setup?key=${running.setup.key}`)).status).toBe(303);
        expect((await first.request("/setup")).status).toBe(200);
        // Another browser with the same link (read from the log, or over a shoulder) gets nothing.
        const second = new CookieJar(served);
        const refused = await second.request(`/setup?key=${running.setup.key}`);
        expect(refused.status).toBe(403);
        expect(await refused.text()).toMatch(/already opened in another browser/);
        expect((await second.request("/setup")).status).toBe(403);
        // Copying the first browser's cookie is no way round: it is the binding, not the key, that counts.
        const copied = new CookieJar(served);
        copied.cookies.set("envhooks_setup", "forged");
        expect((await copied.request("/setup")).status).toBe(403);
        // The first browser may open the link again.
        expect((await first.request(`/setup?key=${running.setup.key}`)).status).toBe(303);
        expect((await first.request("/setup")).status).toBe(200);

        // An hour after it was logged, the key ends for everyone: a restart logs a new one.
        running.advance(61 * MINUTE);
        const expired = await first.request("/setup");
        expect(expired.status).toBe(403);
        expect(await expired.text()).toMatch(/expired[\s\S]*Restart\s+envhooks/);
        const late = new CookieJar(served);
        const lateAnswer = await late.request(`/setup?key=${running.setup.key}`);
        expect(lateAnswer.status).toBe(403);
        expect(await lateAnswer.text()).toMatch(/expired/);
        expect(github.callsTo(/conversions$/)).toHaveLength(0);
      } finally {
        await running.close();
        await github.stop();
        await store.close();
      }
    });

    it("lets one /setup/callback run at a time: of two at once, one registers the App and shows the operator token", async () => {
      const store = await kind.open();
      const github = await new FakeGithub().start();
      const running = await startUnconfigured(store, github);
      try {
        const jar = new CookieJar({
          request: (path, init) => running.host.fetch(new Request(path, init)),
        });
        await jar.request(`/setup?key=${running.setup.key}`);
        const callback = await confirmOnGithub(jar, github);
        const answers = await Promise.all([jar.request(callback), jar.request(callback)]);
        const pages = await Promise.all(answers.map((answer) => answer.text()));
        expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
        const shown = pages.filter((page) => page.includes("generated-operator-token-0123456789abcdef"));
        expect(shown).toHaveLength(1);
        expect(pages.find((_, n) => answers[n]?.status === 409)).toMatch(/already being finished/);
        expect(github.callsTo(/^\/api\/v3\/app-manifests\/[^/]+\/conversions$/)).toHaveLength(1);
        expect(github.registeredApps).toHaveLength(1);
      } finally {
        await running.close();
        await github.stop();
        await store.close();
      }
    });
  });

  describe.skipIf(kind.skip)("setup when .env cannot be written", () => {
    it("connects the App all the same and gives the variables to keep, once", async () => {
      const store = await kind.open();
      const github = await new FakeGithub().start();
      const running = await startUnconfigured(store, github, {
        publicUrl: "https://envhooks.example.test",
        envFileIn: "/nonexistent-folder-for-envhooks-tests",
      });
      try {
        const jar = new CookieJar(
          { request: (path, init) => running.host.fetch(new Request(path, init)) },
          "https://envhooks.example.test",
        );
        await jar.request(`/setup?key=${running.setup.key}`);
        const page = await (await jar.request("/setup")).text();
        const action =
          /<form method="post" action="([^"]*settings\/apps\/new[^"]*)">/
            .exec(page)?.[1]
            ?.replaceAll("&amp;", "&") ?? "";
        const manifest = /name="manifest" value="([^"]+)"/.exec(page)?.[1]?.replaceAll("&quot;", '"') ?? "";
        const confirmed = await fetch(action, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ manifest }).toString(),
          redirect: "manual",
        });
        const back = new URL(confirmed.headers.get("location") ?? "");
        const done = await (await jar.request(back.pathname + back.search)).text();
        expect(done).toMatch(/could not be written/);
        const app = github.registeredApps[0];
        expect(done).toContain(`APP_ID=${app?.id}`);
        expect(done).toContain(`WEBHOOK_SECRET=${app?.webhookSecret}`);
        expect(running.host.current().githubConnected).toBe(true);
      } finally {
        await running.close();
        await github.stop();
        await store.close();
      }
    });
  });

  describe.skipIf(kind.skip)("setup without a public address", () => {
    it("offers a smee.io channel: made, used as the App's webhook URL, and kept in .env", async () => {
      const store = await kind.open();
      const github = await new FakeGithub().start();
      const smee = createServer((request, response) => {
        response.writeHead(request.url === "/new" ? 307 : 404, { location: "/LocalChannel" });
        response.end();
      });
      await new Promise<void>((resolve) => smee.listen(0, "127.0.0.1", resolve));
      const smeeUrl = `http://127.0.0.1:${(smee.address() as AddressInfo).port}`;
      const running = await startUnconfigured(store, github);
      running.setup.createWebhookProxy = async () => {
        const url = await createSmeeChannel(smeeUrl);
        running.setup.webhookProxyUrl = url;
        return url;
      };
      try {
        const served = {
          request: (path: string, init?: RequestInit) => running.host.fetch(new Request(path, init)),
        };
        // Reached by another name than localhost, setup would build the manifest from the Host header: refused.
        const elsewhere = new CookieJar(served, "http://evil.example");
        const misdirected = await elsewhere.request(`/setup?key=${running.setup.key}`);
        expect(misdirected.status).toBe(421);
        expect(await misdirected.text()).toMatch(/Set ENVHOOKS_PUBLIC_URL/);
        const jar = new CookieJar(served);
        // Until the App is registered, /login says where to go.
        expect(await (await jar.request("/login")).text()).toMatch(/open the <code>\/setup<\/code>\s+link/);
        await jar.request(`/setup?key=${running.setup.key}`);
        const page = await (await jar.request("/setup")).text();
        expect(page).toMatch(/GitHub cannot reach <code>http:\/\/localhost:3000<\/code>/);
        expect((await jar.request("/setup/webhook-proxy", { method: "POST", form: {} })).status).toBe(403);
        const made = await jar.request("/setup/webhook-proxy", {
          method: "POST",
          form: { _csrf: CookieJar.csrfOf(page) },
        });
        expect(made.status).toBe(303);
        const after = await (await jar.request("/setup")).text();
        expect(after).toContain(`<code id="webhook-url">${smeeUrl}/LocalChannel</code>`);
        expect(after).not.toMatch(/GitHub cannot reach/);
        const action =
          /<form method="post" action="([^"]+)">/.exec(after)?.[1]?.replaceAll("&amp;", "&") ?? "";
        const manifest = /name="manifest" value="([^"]+)"/.exec(after)?.[1]?.replaceAll("&quot;", '"') ?? "";
        expect(JSON.parse(manifest).hook_attributes.url).toBe(`${smeeUrl}/LocalChannel`);
        const confirmed = await fetch(action, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ manifest }).toString(),
          redirect: "manual",
        });
        const back = new URL(confirmed.headers.get("location") ?? "");
        expect((await jar.request(back.pathname + back.search)).status).toBe(200);
        expect(parseEnv(readFileSync(running.envFile, "utf8")).WEBHOOK_PROXY_URL).toBe(
          `${smeeUrl}/LocalChannel`,
        );
      } finally {
        await running.close();
        await new Promise((resolve) => smee.close(resolve));
        await github.stop();
        await store.close();
      }
    });
  });

  describe.skipIf(kind.skip)("webhook proxy (WEBHOOK_PROXY_URL)", () => {
    it("forwards a smee.io channel's deliveries to the webhook route, signature intact, and reconnects after a drop", async () => {
      const store = await kind.open();
      const harness = await start(store, undefined);
      // A local stand-in for smee.io: /new redirects to a channel; the channel is an event stream.
      const streams: ServerResponse[] = [];
      const smee = createServer((request, response) => {
        if (request.url === "/new") {
          response.writeHead(307, { location: "/Ch4nnel" });
          return response.end();
        }
        response.writeHead(200, { "content-type": "text/event-stream" });
        response.write("event: ready\ndata: {}\n\n");
        streams.push(response);
      });
      await new Promise<void>((resolve) => smee.listen(0, "127.0.0.1", resolve));
      const smeeUrl = `http://127.0.0.1:${(smee.address() as AddressInfo).port}`;
      const envhooks = createServer(async (request, response) => {
        const chunks: Buffer[] = [];
        for await (const chunk of request) chunks.push(chunk as Buffer);
        const answer = await harness.envhooks.app.request(request.url ?? "/", {
          method: request.method ?? "GET",
          headers: request.headers as Record<string, string>,
          body: Buffer.concat(chunks),
        });
        response.writeHead(answer.status);
        response.end(await answer.text());
      });
      await new Promise<void>((resolve) => envhooks.listen(0, "127.0.0.1", resolve));
      const target = `http://127.0.0.1:${(envhooks.address() as AddressInfo).port}/api/github/webhooks`;
      const channel = await createSmeeChannel(smeeUrl);
      expect(channel).toBe(`${smeeUrl}/Ch4nnel`);
      const proxy = forwardWebhookProxy({ source: channel, target, log: testLog().log });
      const send = async (deliveryId: string) => {
        const payload = pushToBranch("proxied");
        const body = JSON.stringify(payload);
        const message = {
          host: "smee.io",
          "x-github-event": "push",
          "x-github-delivery": deliveryId,
          "x-hub-signature-256": await sign(WEBHOOK_SECRET, body),
          "content-type": "application/json",
          body: payload,
          query: {},
          timestamp: Date.now(),
        };
        await eventually(async () => streams.length > 0);
        streams.at(-1)?.write(`id: ${Date.now()}\ndata: ${JSON.stringify(message)}\n\n`);
      };
      const stored = (deliveryId: string) =>
        eventually(async () => {
          const { rows } = await store.db.query("SELECT 1 FROM github_events WHERE delivery_id = $1", [
            deliveryId,
          ]);
          return rows.length === 1;
        });
      try {
        await send("proxied-1");
        await stored("proxied-1");
        // smee.io drops the stream: the proxy connects again and goes on forwarding.
        for (const stream of streams.splice(0)) stream.destroy();
        await send("proxied-2");
        await stored("proxied-2");
        // Counted once envhooks' answer is back, which can be after the delivery is visible in the store.
        await eventually(async () => proxy.forwarded === 2);
      } finally {
        proxy.stop();
        smee.closeAllConnections();
        await new Promise((resolve) => smee.close(resolve));
        await new Promise((resolve) => envhooks.close(resolve));
        await harness.close();
        await store.close();
      }
    });
  });

  describe.skipIf(kind.skip)("over https, and without a secret key", () => {
    it("marks the cookie Secure over https", async () => {
      const store = await kind.open();
      const harness = await start(store, undefined);
      try {
        const jar = new CookieJar(harness.envhooks.app, "https://envhooks.test");
        const page = await jar.request("/login");
        await jar.request("/login", {
          method: "POST",
          form: { _csrf: CookieJar.csrfOf(await page.text()), token: API_TOKEN },
        });
        expect(jar.lastSetCookies.find((line) => line.startsWith("envhooks_session="))).toMatch(/; Secure/);
        // Without OAuth configured, /login says so and offers only the token.
        expect(await (await new CookieJar(harness.envhooks.app).request("/login")).text()).toMatch(
          /Sign in with GitHub is not set up/,
        );
      } finally {
        await harness.close();
        await store.close();
      }
    });

    it("keeps no GitHub token when secrets are stored plain: the session lasts until the 10-minute check", async () => {
      const store = await kind.open();
      const github = await new FakeGithub().start();
      github.oauthClient = CLIENT;
      const harness = await start(store, github, { secrets: createSecretBox([]) });
      try {
        github.addUser({
          login: "plain",
          id: 15,
          installations: [
            {
              id: 9,
              account: "Codertocat",
              repositories: [{ full_name: PROJECT, permissions: repositoryPermissions("pull") }],
            },
          ],
        });
        const jar = await signInWithGithub(harness.envhooks.app, github, "plain");
        const { rows } = await store.db.query<{ user_token: string | null }>(
          "SELECT user_token FROM web_sessions WHERE login = 'plain'",
        );
        expect(rows[0]?.user_token).toBeNull();
        expect((await jar.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(200);
        harness.advance(10 * MINUTE);
        expect((await jar.request(`/api/projects/${PROJECT}/integrations`)).status).toBe(401);
      } finally {
        await harness.close();
        await github.stop();
        await store.close();
      }
    });
  });
});

/** Goes through "Sign in with GitHub" as `login`: envhooks → fake GitHub's authorize → callback. */
async function signInWithGithub(
  app: Envhooks["app"],
  github: FakeGithub,
  login: string,
  next = "/",
): Promise<CookieJar> {
  const jar = new CookieJar(app);
  const page = await (await jar.request(`/login?next=${encodeURIComponent(next)}`)).text();
  expect(page).toMatch(/Sign in with GitHub/);
  const start = await jar.request(`/login/github?next=${encodeURIComponent(next)}`);
  expect(start.status).toBe(302);
  const authorizeUrl = new URL(start.headers.get("location") ?? "");
  expect(authorizeUrl.origin + authorizeUrl.pathname).toBe(`${github.webUrl}/login/oauth/authorize`);
  expect(authorizeUrl.searchParams.get("client_id")).toBe(CLIENT.clientId);
  github.signedInAs = login;
  const authorized = await fetch(authorizeUrl, { redirect: "manual" });
  expect(authorized.status).toBe(302);
  const callback = new URL(authorized.headers.get("location") ?? "");
  expect(callback.pathname).toBe("/login/github/callback");
  const done = await jar.request(callback.pathname + callback.search);
  expect(done.status).toBe(303);
  expect(done.headers.get("location")).toBe(next);
  expect(jar.cookies.has("envhooks_session")).toBe(true);
  return jar;
}

describe("the .env file setup writes", () => {
  it("keeps every variable of writes made at once, mode 600, no draft left behind", async () => {
    const folder = mkdtempSync(join(tmpdir(), "envhooks-env-"));
    try {
      const path = join(folder, ".env");
      await updateEnvFile(path, { KEPT: "from before" });
      const values = Array.from({ length: 20 }, (_, n) => ({ [`VAR_${n}`]: `value ${n}\nline two` }));
      await Promise.all(values.map((value) => updateEnvFile(path, value)));
      const written = parseEnv(readFileSync(path, "utf8"));
      expect(written.KEPT).toBe("from before");
      for (let n = 0; n < 20; n++) expect(written[`VAR_${n}`], `VAR_${n}`).toBe(`value ${n}\nline two`);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readdirSync(folder)).toEqual([".env"]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe("the host that reconnects envhooks after setup", () => {
  it("serves the new instance after a reconnect, and the old settings again when the new start fails", async () => {
    const started: Array<string | undefined> = [];
    const stopped: Array<string | undefined> = [];
    const instance = (appId: string | undefined) =>
      ({
        app: { fetch: async () => new Response(`instance ${appId ?? "unconfigured"}`) },
        stop: async () => {
          stopped.push(appId);
        },
      }) as unknown as Envhooks;
    const host = await hostEnvhooks(
      async (github) => {
        started.push(github.appId);
        if (github.appId === "broken") throw new Error("cannot start");
        return instance(github.appId);
      },
      { appId: undefined, privateKey: undefined, webhookSecret: undefined, baseUrl: undefined },
    );
    const answer = async () => (await host.fetch(new Request("http://envhooks.test/"))).text();
    expect(await answer()).toBe("instance unconfigured");
    await expect(
      host.reconnect({ appId: "broken", privateKey: "k", webhookSecret: "s", baseUrl: undefined }),
    ).rejects.toThrow("cannot start");
    expect(await answer()).toBe("instance unconfigured");
    await host.reconnect({ appId: "42", privateKey: "k", webhookSecret: "s", baseUrl: undefined });
    expect(await answer()).toBe("instance 42");
    expect(started).toEqual([undefined, "broken", undefined, "42"]);
    expect(stopped).toEqual([undefined, undefined]);
  });
});
