import { Hono } from "hono";
import type { WebDeps } from "../web-routes.ts";

/** The dashboard's pages. */
export function pageRoutes(_deps: WebDeps): Hono {
  return new Hono();
}
