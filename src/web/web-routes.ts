import { Hono } from "hono";
import type { Logger } from "pino";
import type { Database } from "../store/database.ts";
import type { UserProjects } from "./access/github-user.ts";
import { accessRoutes } from "./access/routes.ts";
import type { Sessions } from "./access/session.ts";
import type { SetupDeps } from "./access/setup.ts";
import { pageRoutes } from "./pages/routes.ts";

/** What the browser side of envhooks (setup, sign-in, dashboard) needs from the server. */
export interface WebDeps {
  db: Database;
  log: Logger;
  /** ENVHOOKS_PUBLIC_URL: where people reach envhooks (links, OAuth callback, manifest's webhook URL). */
  publicUrl?: string | undefined;
  /** GitHub's web root for links to commits and pull requests: GHE_HOST's, or github.com. */
  githubWebUrl?: string | undefined;
  /**
   * Calls envhooks' own HTTP API in this process, through every middleware the API has: the
   * dashboard's actions go through exactly the code the API runs (validation messages included).
   */
  callApi(path: string, init?: RequestInit): Promise<Response>;
  /** Browser sessions (the cookie, its principal and CSRF token). */
  sessions: Sessions;
  /** ENVHOOKS_API_TOKEN, when set. */
  apiToken(): string | undefined;
  /** Sign in with GitHub: the App's OAuth client; undefined when GITHUB_CLIENT_ID/SECRET are not set. */
  userProjects?: UserProjects | undefined;
  /** Setup in the browser (/setup), while the GitHub App is not configured; undefined: no /setup. */
  setup?: SetupDeps | undefined;
}

/** The pages people open in a browser; everything under /api stays the JSON API. */
export function webRoutes(deps: WebDeps): Hono {
  return new Hono().route("/", accessRoutes(deps)).route("/", pageRoutes(deps));
}
