import { readFile } from "node:fs/promises";
import { type Context, Hono } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { html } from "hono/html";
import { ProbotOctokit } from "probot";
import { parse } from "yaml";
import { sameSecret } from "../../http/require-api-token.ts";
import type { WebDeps } from "../web-routes.ts";
import { envValue, updateEnvFile } from "./env-file.ts";
import { hostRefused, publicOrigin } from "./public-origin.ts";
import { accessPage, csrfRefused, formField, randomToken } from "./session.ts";

/** What registering the GitHub App gives back, as kept in .env. */
export interface AppCredentials {
  appId: string;
  slug: string;
  privateKey: string;
  webhookSecret: string;
  clientId: string;
  clientSecret: string;
  /** The app's page on GitHub (its install page is `${htmlUrl}/installations/new`). */
  htmlUrl: string;
}

/** Setup in the browser, while the GitHub App is not configured. */
export interface SetupDeps {
  /** Whether the App is still to be registered (false once it is). */
  needed(): boolean;
  /**
   * The key in the URL envhooks logs (`/setup?key=…`): only who reads the log can set up. It is
   * bound to the first browser that opens the URL and works for SETUP_KEY_LIFETIME_MS after start.
   */
  key: string;
  /** GitHub's web root (https://github.com, or GitHub Enterprise Server's). */
  webUrl: string;
  /** GitHub's REST root. */
  apiUrl: string;
  /** The file the credentials are written to (mode 600). */
  envFile: string;
  /** app.yml's path. */
  manifestFile: string;
  /** A smee.io channel forwarding GitHub's webhooks here (local development without a public URL). */
  webhookProxyUrl?: string | undefined;
  /**
   * Makes a smee.io channel, keeps it in the env file as WEBHOOK_PROXY_URL, starts forwarding it
   * here and sets `webhookProxyUrl`: offered by /setup when GitHub could not reach envhooks.
   */
  createWebhookProxy?: () => Promise<string>;
  /** An operator token generated at this start, shown once on the setup page. */
  generatedApiToken?: string | undefined;
  /**
   * The file that keeps the operator token (ENVHOOKS_API_TOKEN) an earlier start generated: after a
   * restart the token is not shown again, and the setup page says where it is.
   */
  apiTokenFile?: string | undefined;
  /** Connects the registered App into the running envhooks (no restart). */
  connect(credentials: AppCredentials): Promise<void>;
  Octokit?: typeof ProbotOctokit;
}

/**
 * Binds the setup key to the browser that opened the logged URL first (a random value only that
 * browser's cookie holds), so the key leaves the address bar and is no use elsewhere.
 */
const SETUP_COOKIE = "envhooks_setup";
/** The setup key works this long after envhooks started (and logged it); a restart logs a new one. */
export const SETUP_KEY_LIFETIME_MS = 3600_000;
/** The manifest round trip's state. */
const STATE_COOKIE = "envhooks_setup_state";
const GITHUB_ORG = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;

/** The setup URL envhooks logs at start while the App is not configured. */
export function setupUrl(base: string, key: string): string {
  return `${base.replace(/\/+$/, "")}/setup?key=${encodeURIComponent(key)}`;
}

/**
 * The App's manifest (https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest):
 * app.yml's name, description, events and permissions, with this envhooks' own addresses — the
 * webhook URL (ENVHOOKS_PUBLIC_URL, or the smee.io channel), where GitHub returns after
 * registering, and the OAuth callback for "Sign in with GitHub".
 */
export async function buildManifest(
  manifestFile: string,
  base: string,
  webhookProxyUrl: string | undefined,
): Promise<Record<string, unknown>> {
  const app = (parse(await readFile(manifestFile, "utf8")) ?? {}) as Record<string, unknown>;
  const hook = (app.hook_attributes ?? {}) as Record<string, unknown>;
  return {
    ...app,
    url: app.url ?? base,
    hook_attributes: { ...hook, url: webhookProxyUrl ?? `${base}/api/github/webhooks`, active: true },
    redirect_url: `${base}/setup/callback`,
    callback_urls: [`${base}/login/github/callback`],
    request_oauth_on_install: false,
    setup_on_update: false,
    public: app.public ?? false,
  };
}

/** Where the setup page says the operator token is: shown once at the end, or in the env file since a restart. */
function operatorTokenTerm(setup: SetupDeps) {
  if (setup.generatedApiToken)
    return html`<dt>Operator token</dt><dd id="operator-token-where">generated at this start and kept in
<code>${setup.envFile}</code> as <code>ENVHOOKS_API_TOKEN</code>: shown once, when the App is registered</dd>`;
  if (setup.apiTokenFile)
    return html`<dt>Operator token</dt><dd id="operator-token-where"><code>ENVHOOKS_API_TOKEN</code> in
<code>${setup.apiTokenFile}</code> (generated at an earlier start, not shown again)</dd>`;
  return "";
}

/** /setup: registers the GitHub App from app.yml through GitHub's manifest flow. */
export function setupRoutes(deps: WebDeps): Hono {
  const app = new Hono();
  // Built once per start, as the key is: the state of this start's setup lives here.
  const keyEndsAt = deps.sessions.now().getTime() + SETUP_KEY_LIFETIME_MS;
  const keyExpired = () => deps.sessions.now().getTime() >= keyEndsAt;
  /** The value the browser that opened the key first holds in its cookie. */
  let boundTo: string | undefined;
  /**
   * Set before GitHub's code is exchanged, and kept once the App is registered: a second callback
   * (another tab, a reload, a replay) would register a second App and show the operator token again.
   */
  let finishing = false;
  const cookieOptions = (c: Context, maxAge: number) => ({
    path: "/setup",
    httpOnly: true,
    sameSite: "Lax" as const,
    secure: deps.sessions.secure(c),
    maxAge,
  });

  /** Whether this browser is the one that opened the logged setup URL first. */
  async function holdsKey(c: Context): Promise<boolean> {
    if (boundTo === undefined || keyExpired()) return false;
    const held = await getSignedCookie(c, await deps.sessions.cookieKey(), SETUP_COOKIE);
    return sameSecret(held || undefined, boundTo);
  }

  const page = (
    c: Context,
    title: string,
    body: ReturnType<typeof html>,
    status: 200 | 403 | 404 | 409 | 502 = 200,
    formAction?: string,
  ) => accessPage(c, { title, body }, status, formAction);

  const notNeeded = (c: Context) =>
    page(
      c,
      "Set up",
      html`<h1>envhooks is set up</h1>
<p>The GitHub App is configured. <a href="/login">Sign in</a>.</p>`,
    );

  const refused = (c: Context) =>
    page(
      c,
      "Set up",
      html`<h1>Open the setup link from envhooks' log</h1>
<p class="notice bad" role="alert">This page needs the one-time key that envhooks printed in its log when it
started (the line “Open … /setup?key=… to register the GitHub App”): only who can read the log may
register the App.</p>`,
      403,
    );

  const expired = (c: Context) =>
    page(
      c,
      "Set up",
      html`<h1>The setup link expired</h1>
<p class="notice bad" role="alert">The setup key works for an hour after envhooks logged it. Restart
envhooks: it logs a new <code>/setup?key=…</code> link.</p>`,
      403,
    );

  const boundElsewhere = (c: Context) =>
    page(
      c,
      "Set up",
      html`<h1>Setup is open in another browser</h1>
<p class="notice bad" role="alert">This setup link was already opened in another browser, and only that
browser can go on. To set up from this one, restart envhooks: it logs a new link.</p>`,
      403,
    );

  app.get("/setup", async (c) => {
    const setup = deps.setup;
    if (!setup?.needed()) return notNeeded(c);
    // The manifest's URLs (webhook, redirect, OAuth callback) never follow a Host header.
    const base = publicOrigin(c, deps.publicUrl);
    if (!base) return hostRefused(c);
    if (keyExpired()) return expired(c);
    const given = c.req.query("key");
    if (given !== undefined) {
      if (!sameSecret(given, setup.key)) return refused(c);
      if (boundTo === undefined) {
        // The first browser with the key: set at once (no await before), so two at once bind one.
        boundTo = randomToken();
        const left = Math.max(1, Math.floor((keyEndsAt - deps.sessions.now().getTime()) / 1000));
        await setSignedCookie(
          c,
          SETUP_COOKIE,
          boundTo,
          await deps.sessions.cookieKey(),
          cookieOptions(c, left),
        );
      } else if (!(await holdsKey(c))) {
        return boundElsewhere(c);
      }
      const org = c.req.query("org");
      return c.redirect(org ? `/setup?org=${encodeURIComponent(org)}` : "/setup", 303);
    }
    if (!(await holdsKey(c))) return refused(c);

    const org = c.req.query("org")?.trim();
    const orgProblem = org !== undefined && org !== "" && !GITHUB_ORG.test(org);
    // One state per browser for the whole round trip (the page may be opened again, for an organisation).
    let state = await getSignedCookie(c, await deps.sessions.cookieKey(), STATE_COOKIE);
    if (!state) {
      state = randomToken();
      await setSignedCookie(c, STATE_COOKIE, state, await deps.sessions.cookieKey(), cookieOptions(c, 3600));
    }
    const built = await buildManifest(setup.manifestFile, base, setup.webhookProxyUrl);
    const manifest = JSON.stringify(built);
    const permissions = Object.entries((built.default_permissions ?? {}) as Record<string, string>);
    const events = (built.default_events ?? []) as string[];
    const target = (owner: string | undefined) =>
      `${setup.webUrl}${owner ? `/organizations/${encodeURIComponent(owner)}` : ""}/settings/apps/new?state=${encodeURIComponent(state)}`;
    const hookUrl = setup.webhookProxyUrl ?? `${base}/api/github/webhooks`;
    const local = !deps.publicUrl && !setup.webhookProxyUrl;
    return page(
      c,
      "Set up",
      html`<h1>Register envhooks on GitHub</h1>
<p>envhooks registers a GitHub App from <code>app.yml</code>, with the permissions and events it needs,
sends you to GitHub to confirm, and connects it when GitHub sends you back: no restart.</p>
<dl>
  <dt>GitHub</dt><dd><code>${setup.webUrl}</code></dd>
  <dt>Webhook URL</dt><dd><code id="webhook-url">${hookUrl}</code></dd>
  <dt>Sign-in callback</dt><dd><code>${base}/login/github/callback</code></dd>
  <dt>Credentials are written to</dt><dd><code>${setup.envFile}</code> (mode 600)</dd>
  ${operatorTokenTerm(setup)}
  <dt>Permissions</dt><dd id="permissions">${permissions.map(
    ([name, access], n) => html`${n > 0 ? ", " : ""}<code>${name}: ${access}</code>`,
  )}</dd>
  <dt>Events</dt><dd>${events.map((event, n) => html`${n > 0 ? ", " : ""}<code>${event}</code>`)}</dd>
</dl>
${
  local
    ? html`<div class="notice bad" role="note"><p>GitHub cannot reach <code>${base}</code> unless it is
public. Set <code>ENVHOOKS_PUBLIC_URL</code> to envhooks' public address (and restart), or, for local
development, let GitHub send to a <a href="https://smee.io">smee.io</a> channel that envhooks forwards
here (kept as <code>WEBHOOK_PROXY_URL</code>).</p>
${
  setup.createWebhookProxy
    ? html`<form method="post" action="/setup/webhook-proxy">
  <input type="hidden" name="_csrf" value="${state}" />
  <button type="submit">Create a smee.io channel and forward it</button>
</form>`
    : ""
}</div>`
    : ""
}
<h2>For your personal account</h2>
<form method="post" action="${target(undefined)}">
  <input type="hidden" name="manifest" value="${manifest}" />
  <button type="submit" class="primary">Register on GitHub</button>
</form>
<h2>For an organisation</h2>
${
  org && !orgProblem
    ? html`<form method="post" action="${target(org)}">
  <input type="hidden" name="manifest" value="${manifest}" />
  <button type="submit" class="primary">Register for ${org} on GitHub</button>
</form>
<p><a href="/setup">Choose another organisation</a></p>`
    : html`<form method="get" action="/setup" class="stack">
  <label for="org">Organisation (its login on GitHub)</label>
  ${orgProblem ? html`<p class="error" id="org-problem">“${org}” is not an organisation login: letters, digits and hyphens.</p>` : ""}
  <input id="org" name="org" required pattern="[A-Za-z0-9][A-Za-z0-9-]*" value="${org ?? ""}"
    ${orgProblem ? html`aria-invalid="true" aria-describedby="org-problem"` : ""} />
  <button type="submit">Continue</button>
</form>`
}`,
      200,
      setup.webUrl,
    );
  });

  app.post("/setup/webhook-proxy", async (c) => {
    const setup = deps.setup;
    if (!setup?.needed()) return notNeeded(c);
    if (keyExpired()) return expired(c);
    if (!(await holdsKey(c))) return refused(c);
    const state = await getSignedCookie(c, await deps.sessions.cookieKey(), STATE_COOKIE);
    if (!state || !sameSecret(await formField(c, "_csrf"), state)) return csrfRefused(c);
    if (!setup.createWebhookProxy) return c.redirect("/setup", 303);
    try {
      await setup.createWebhookProxy();
    } catch (error) {
      deps.log.warn({ err: error }, "no smee.io channel");
      return page(
        c,
        "Set up",
        html`<h1>No smee.io channel</h1>
<p class="notice bad" role="alert">smee.io did not give a channel: ${(error as Error).message}. Set
<code>ENVHOOKS_PUBLIC_URL</code> or <code>WEBHOOK_PROXY_URL</code> yourself and restart, or
<a href="/setup">try again</a>.</p>`,
        502,
      );
    }
    return c.redirect("/setup", 303);
  });

  app.get("/setup/callback", async (c) => {
    const setup = deps.setup;
    if (!setup?.needed()) return notNeeded(c);
    if (keyExpired()) return expired(c);
    if (!(await holdsKey(c))) return refused(c);
    const state = await getSignedCookie(c, await deps.sessions.cookieKey(), STATE_COOKIE);
    const code = c.req.query("code");
    if (!state || !sameSecret(c.req.query("state"), state) || !code) {
      return page(
        c,
        "Set up",
        html`<h1>Registration not confirmed</h1>
<p class="notice bad" role="alert">GitHub's answer does not match the registration this browser started
(its state differs, or it carries no code). <a href="/setup">Start again</a>.</p>`,
        403,
      );
    }
    // No await between the check and the mark: of callbacks at once, one goes on.
    if (finishing) {
      return page(
        c,
        "Set up",
        html`<h1>Setup is already being finished</h1>
<p class="notice bad" role="alert">Another request (another tab, or this page sent twice) is already
being finished with GitHub's answer, and only one may be. <a href="/setup">Open /setup</a> in a moment
to see where it stands.</p>`,
        409,
      );
    }
    finishing = true;
    const Octokit = setup.Octokit ?? ProbotOctokit;
    let credentials: AppCredentials;
    try {
      // https://docs.github.com/en/rest/apps/apps#create-a-github-app-from-a-manifest
      const { data } = await new Octokit({
        baseUrl: setup.apiUrl,
        retry: { enabled: false },
        throttle: { enabled: false },
      }).request("POST /app-manifests/{code}/conversions", { code });
      credentials = {
        appId: String(data.id),
        slug: data.slug ?? "",
        privateKey: data.pem,
        webhookSecret: data.webhook_secret ?? "",
        clientId: data.client_id,
        clientSecret: data.client_secret,
        htmlUrl: data.html_url,
      };
    } catch (error) {
      finishing = false;
      deps.log.warn({ err: error }, "GitHub did not convert the App manifest's code");
      return page(
        c,
        "Set up",
        html`<h1>GitHub did not finish the registration</h1>
<p class="notice bad" role="alert">Exchanging GitHub's code failed: ${(error as Error).message}. A code works
once and for an hour: <a href="/setup">start again</a>.</p>`,
        502,
      );
    }
    const variables: Record<string, string> = {
      APP_ID: credentials.appId,
      PRIVATE_KEY: credentials.privateKey,
      WEBHOOK_SECRET: credentials.webhookSecret,
      GITHUB_CLIENT_ID: credentials.clientId,
      GITHUB_CLIENT_SECRET: credentials.clientSecret,
      ...(setup.webhookProxyUrl ? { WEBHOOK_PROXY_URL: setup.webhookProxyUrl } : {}),
    };
    let unwritten: string | undefined;
    try {
      await updateEnvFile(setup.envFile, variables);
    } catch (error) {
      // GitHub's code worked once: the App exists now. It is connected all the same, and the page
      // gives the variables to keep by hand (the next start needs them).
      unwritten = (error as Error).message;
      deps.log.error({ err: error, envFile: setup.envFile }, "the App's credentials could not be written");
    }
    deps.log.info(
      { appId: credentials.appId, envFile: setup.envFile },
      "GitHub App registered: connecting it",
    );
    const generated = setup.generatedApiToken;
    try {
      await setup.connect(credentials);
    } catch (error) {
      deps.log.error({ err: error }, "envhooks did not start with the App's settings");
      return page(
        c,
        "Set up",
        html`<h1>Registered, not connected</h1>
<p class="notice bad" role="alert">The App ${credentials.slug} is registered${
          unwritten ? "" : html` and its credentials are in <code>${setup.envFile}</code>`
        }, but envhooks did not start with them: ${(error as Error).message}. Restart envhooks (it reads
the file) and see its log.</p>`,
        502,
      );
    }
    deleteCookie(c, STATE_COOKIE, { path: "/setup" });
    deleteCookie(c, SETUP_COOKIE, { path: "/setup" });
    return page(
      c,
      "Set up",
      html`<h1>envhooks is connected to GitHub</h1>
<p class="notice ok" role="status">The App <strong>${credentials.slug}</strong> (id ${credentials.appId}) is
registered${unwritten ? "" : html`, its credentials are in <code>${setup.envFile}</code>,`} and envhooks accepts its webhooks now.</p>
${
  unwritten
    ? html`<div class="notice bad" role="alert"><p><code>${setup.envFile}</code> could not be written
(${unwritten}): keep these variables where envhooks reads them before it restarts (this page is not
shown again).</p>
<pre id="unwritten-variables">${Object.entries(variables)
        .map(([name, value]) => `${name}=${envValue(value)}`)
        .join("\n")}</pre></div>`
    : ""
}
<p><a class="button primary" id="install-link" href="${credentials.htmlUrl}/installations/new">Install the App on your repositories</a></p>
${
  generated
    ? html`<h2>Your operator token</h2>
<p>envhooks generated the operator token (<code>ENVHOOKS_API_TOKEN</code>, kept in
<code>${setup.envFile}</code>). It opens every project: copy it now, it is not shown again.</p>
<p class="secret" id="operator-token">${generated}</p>`
    : setup.apiTokenFile
      ? html`<h2>Your operator token</h2>
<p id="operator-token-where">envhooks generated the operator token at an earlier start; it is not shown
again. It is <code>ENVHOOKS_API_TOKEN</code> in <code>${setup.apiTokenFile}</code>.</p>`
      : ""
}
<p>Then <a href="/login">sign in</a> with GitHub${generated || setup.apiTokenFile ? " or with the operator token" : ""}.</p>`,
    );
  });

  return app;
}
