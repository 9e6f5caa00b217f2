import { Hono } from "hono";
import type { Logger } from "pino";
import type { Database } from "../store/database.ts";
import { accessRoutes } from "./access/routes.ts";
import { pageRoutes } from "./pages/routes.ts";

/** What the browser side of envhooks (setup, sign-in, dashboard) needs from the server. */
export interface WebDeps {
  db: Database;
  log: Logger;
  /** ENVHOOKS_PUBLIC_URL: where people reach envhooks (links, OAuth callback, manifest's webhook URL). */
  publicUrl?: string | undefined;
  /**
   * Calls envhooks' own HTTP API in this process, through every middleware the API has: the
   * dashboard's actions go through exactly the code the API runs (validation messages included).
   */
  callApi(path: string, init?: RequestInit): Promise<Response>;
}

/** The pages people open in a browser; everything under /api stays the JSON API. */
export function webRoutes(deps: WebDeps): Hono {
  return new Hono().route("/", accessRoutes(deps)).route("/", pageRoutes(deps));
}
