import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { sign } from "@octokit/webhooks-methods";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pushToBranch, REPO } from "../fixtures/github-events.ts";
import { FakeGithub, repositoryPermissions } from "../helpers/fake-github.ts";
import { ServerProcess } from "../helpers/server-process.ts";
import { eventually } from "../helpers/test-envhooks.ts";

/** Cookies over real HTTP, as a browser keeps them for one origin; redirects are not followed. */
class Browser {
  readonly cookies = new Map<string, string>();
  readonly origin: string;

  constructor(origin: string) {
    this.origin = origin;
  }

  async get(path: string): Promise<Response> {
    return this.send(path, { method: "GET" });
  }

  async send(path: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0)
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const response = await fetch(new URL(path, this.origin), { ...init, headers, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const at = pair.indexOf("=");
      if (/max-age=0/i.test(line) || at === pair.length - 1) this.cookies.delete(pair.slice(0, at));
      else this.cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return response;
  }
}

const decodeEntities = (text: string) =>
  text
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");

// A new user, as the "done when" reads: `npm start` with nothing set, open the logged URL,
// register the App on the (fake) GitHub, send a signed push, sign in with GitHub and see it.
describe("a new user's first start", { timeout: 300_000 }, () => {
  let github: FakeGithub;
  let folder: string;
  const servers: ServerProcess[] = [];

  beforeEach(async () => {
    github = await new FakeGithub().start();
    folder = mkdtempSync(join(tmpdir(), "envhooks-first-start-"));
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill("SIGKILL");
    await github?.stop();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it("logs the /setup URL, registers and connects the App without a restart, then signs in with GitHub", async () => {
    const envFile = join(folder, ".env");
    const env = {
      ENVHOOKS_DATA_DIR: join(folder, "data"),
      ENVHOOKS_ENV_FILE: envFile,
      GHE_HOST: new URL(github.baseUrl).host,
      GHE_PROTOCOL: "http",
      ENVHOOKS_ALLOW_PRIVATE_URLS: "true",
    };
    const server = new ServerProcess(env);
    servers.push(server);
    const origin = await server.ready();
    const link = await eventually(
      async () => /Open (http:\/\/\S+\/setup\?key=\S+) to register the GitHub App/.exec(server.output)?.[1],
    );
    expect(new URL(link).origin).toBe(origin);
    // The operator token was generated and kept before anyone opened the page.
    const generated = parseEnv(readFileSync(envFile, "utf8")).ENVHOOKS_API_TOKEN ?? "";
    expect(generated).toMatch(/^[0-9a-f]{64}$/);

    const browser = new Browser(origin);
    expect((await browser.get("/setup")).status).toBe(403);
    expect((await browser.get(new URL(link).pathname + new URL(link).search)).status).toBe(303);
    // The link is bound to the browser that opened it first: another one with the same link gets nothing.
    const elsewhere = await new Browser(origin).get(new URL(link).pathname + new URL(link).search);
    expect(elsewhere.status).toBe(403);
    expect(await elsewhere.text()).toMatch(/already opened in another browser/);
    const page = await (await browser.get("/setup")).text();
    const action = decodeEntities(
      /<form method="post" action="([^"]*settings\/apps\/new[^"]*)">/.exec(page)?.[1] ?? "",
    );
    const manifest = decodeEntities(/name="manifest" value="([^"]+)"/.exec(page)?.[1] ?? "");
    expect(action.startsWith(`${github.webUrl}/settings/apps/new?state=`)).toBe(true);
    const confirmed = await fetch(action, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ manifest }).toString(),
      redirect: "manual",
    });
    const back = new URL(confirmed.headers.get("location") ?? "");
    const done = await browser.get(back.pathname + back.search);
    const donePage = await done.text();
    expect(done.status, donePage).toBe(200);
    expect(donePage).toContain(generated);
    const app = github.registeredApps[0];
    expect(donePage).toContain(`${github.webUrl}/apps/${app?.slug}/installations/new`);
    expect(statSync(envFile).mode & 0o777).toBe(0o600);

    // Connected: a push signed with the App's secret is accepted and applied.
    const body = JSON.stringify(pushToBranch("feature"));
    const accepted = await fetch(`${origin}/api/github/webhooks`, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": crypto.randomUUID(),
        "x-hub-signature-256": await sign(app?.webhookSecret ?? "", body),
      },
    });
    expect(accepted.status).toBe(202);

    // Sign in with GitHub as someone who can read the repository; the push's activity is theirs to see.
    github.addUser({
      login: "newcomer",
      id: 77,
      installations: [
        {
          id: 5,
          account: "Codertocat",
          repositories: [{ full_name: REPO, permissions: repositoryPermissions("push") }],
        },
      ],
    });
    github.signedInAs = "newcomer";
    const person = new Browser(origin);
    const authorize = await person.get("/login/github?next=%2F");
    expect(authorize.status).toBe(302);
    const authorized = await fetch(authorize.headers.get("location") ?? "", { redirect: "manual" });
    const callback = new URL(authorized.headers.get("location") ?? "");
    const signedIn = await person.get(callback.pathname + callback.search);
    expect(signedIn.status).toBe(303);
    const items = await eventually(async () => {
      const answer = await person.get(`/api/projects/${REPO}/activities`);
      const json = (await answer.json()) as { items?: Array<{ type: string; state: string }> };
      return json.items?.length ? json.items : undefined;
    }, 60_000);
    expect(items[0]?.type).toBe("environment.branch");

    // The next start reads .env (as `npm start` does): the App is configured, no setup link.
    await server.kill("SIGTERM");
    const again = new ServerProcess({ ...env, ...parseEnv(readFileSync(envFile, "utf8")) });
    servers.push(again);
    const secondOrigin = await again.ready();
    expect(again.output).not.toMatch(/to register the GitHub App/);
    expect(await (await fetch(`${secondOrigin}/setup`)).text()).toMatch(/envhooks is set up/);
  });
  it("logs in one line where the generated operator token went; after a restart the setup page says where it is", async () => {
    const envFile = join(folder, ".env");
    const env = {
      ENVHOOKS_DATA_DIR: join(folder, "data"),
      ENVHOOKS_ENV_FILE: envFile,
      GHE_HOST: new URL(github.baseUrl).host,
      GHE_PROTOCOL: "http",
    };
    const first = new ServerProcess(env);
    servers.push(first);
    await first.ready();
    await eventually(async () => /to register the GitHub App/.test(first.output));
    const token = parseEnv(readFileSync(envFile, "utf8")).ENVHOOKS_API_TOKEN ?? "";
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const said = first.output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => (JSON.parse(line) as { msg?: string }).msg ?? "")
      .filter((msg) => msg.includes("operator token"));
    // One line, for a person: where it went, and that the setup page shows it once.
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(`ENVHOOKS_API_TOKEN) and saved it in ${envFile}`);
    expect(said[0]).toMatch(/the setup page shows it once/);
    expect(first.output).not.toContain(token);
    await first.kill("SIGTERM");

    // Restarted before the App was registered, as `npm start` does it (reading .env): the token is
    // no longer generated nor shown, and the setup page says where it is.
    const again = new ServerProcess({ ...env, ...parseEnv(readFileSync(envFile, "utf8")) });
    servers.push(again);
    const origin = await again.ready();
    const link = await eventually(
      async () => /Open (http:\/\/\S+\/setup\?key=\S+) to register the GitHub App/.exec(again.output)?.[1],
    );
    const browser = new Browser(origin);
    expect((await browser.get(new URL(link).pathname + new URL(link).search)).status).toBe(303);
    const page = await (await browser.get("/setup")).text();
    const where = /<dd id="operator-token-where">([\s\S]*?)<\/dd>/.exec(page)?.[1] ?? "";
    expect(where, page).toContain(`<code>${envFile}</code>`);
    expect(where).toMatch(/ENVHOOKS_API_TOKEN[\s\S]*not shown again/);
    expect(page).not.toContain(token);

    // Registered: the last page says where the token is, instead of showing it.
    const action = decodeEntities(
      /<form method="post" action="([^"]*settings\/apps\/new[^"]*)">/.exec(page)?.[1] ?? "",
    );
    const manifest = decodeEntities(/name="manifest" value="([^"]+)"/.exec(page)?.[1] ?? "");
    const confirmed = await fetch(action, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ manifest }).toString(),
      redirect: "manual",
    });
    const back = new URL(confirmed.headers.get("location") ?? "");
    const done = await browser.get(back.pathname + back.search);
    const donePage = await done.text();
    expect(done.status, donePage).toBe(200);
    expect(donePage).not.toContain(token);
    const told = /<p id="operator-token-where">([\s\S]*?)<\/p>/.exec(donePage)?.[1] ?? "";
    expect(told, donePage).toContain(`<code>${envFile}</code>`);
    expect(told).toMatch(/not shown\s+again/);
    expect(donePage).toMatch(/sign in<\/a> with GitHub or with the operator token/);
  });
});
