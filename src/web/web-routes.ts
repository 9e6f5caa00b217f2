import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { html } from "hono/html";
import type { Logger } from "pino";
import type { Database } from "../store/database.ts";
import type { SecretBox } from "../store/secret-box.ts";
import type { UserProjects } from "./access/github-user.ts";
import { accessRoutes } from "./access/routes.ts";
import { accessPage, type Sessions } from "./access/session.ts";
import type { SetupDeps } from "./access/setup.ts";
import { pageRoutes } from "./pages/routes.ts";

/** What the browser side of envhooks (setup, sign-in, dashboard) needs from the server. */
export interface WebDeps {
  db: Database;
  log: Logger;
  /** ENVHOOKS_PUBLIC_URL: where people reach envhooks (links, OAuth callback, manifest's webhook URL). */
  publicUrl?: string | undefined;
  /** ENVHOOKS_TRUSTED_PROXIES: the reverse proxies whose X-Forwarded-For sign-in throttling believes. */
  trustedProxies?: readonly string[] | undefined;
  /** GitHub's web root for links to commits and pull requests: GHE_HOST's, or github.com. */
  githubWebUrl?: string | undefined;
  /**
   * Calls envhooks' own HTTP API in this process, through every middleware the API has: the
   * dashboard's actions go through exactly the code the API runs (validation messages included).
   */
  callApi(path: string, init?: RequestInit): Promise<Response>;
  /** Browser sessions (the cookie, its principal and CSRF token). */
  sessions: Sessions;
  /** Seals what the pages keep for a moment (a one-time message holding a new secret). */
  secrets?: SecretBox | undefined;
  /** ENVHOOKS_API_TOKEN, when set. */
  apiToken(): string | undefined;
  /** Sign in with GitHub: the App's OAuth client; undefined when GITHUB_CLIENT_ID/SECRET are not set. */
  userProjects?: UserProjects | undefined;
  /** Setup in the browser (/setup), while the GitHub App is not configured; undefined: no /setup. */
  setup?: SetupDeps | undefined;
}

/** The largest body sign-in, sign-out and setup read (anyone may post to /login). */
export const MAX_ACCESS_BODY_BYTES = 64 * 1024;
/** The largest body a dashboard form may send. */
export const MAX_PAGE_BODY_BYTES = 1024 * 1024;

/** Whether the path is one of sign-in, sign-out or setup (the smaller limit). */
const isAccessPath = (path: string) => /^\/(login|logout|setup)(\/|$)/.test(path);

function tooLarge(c: Context) {
  const limit = isAccessPath(c.req.path) ? "64 KB" : "1 MB";
  return accessPage(
    c,
    {
      title: "Form too large",
      body: html`<h1>Form too large</h1>
<p role="alert">This form sent more than envhooks reads: at most ${limit} here. Nothing was changed.</p>
<p><a href="/">Go back</a> and send less.</p>`,
    },
    413,
  );
}

const limitAccessBody = bodyLimit({ maxSize: MAX_ACCESS_BODY_BYTES, onError: tooLarge });
const limitPageBody = bodyLimit({ maxSize: MAX_PAGE_BODY_BYTES, onError: tooLarge });

/** The pages people open in a browser; everything under /api stays the JSON API. */
export function webRoutes(deps: WebDeps): Hono {
  return new Hono()
    .use("*", async function limitWebBody(c, next) {
      return isAccessPath(c.req.path) ? limitAccessBody(c, next) : limitPageBody(c, next);
    })
    .route("/", accessRoutes(deps))
    .route("/", pageRoutes(deps));
}
