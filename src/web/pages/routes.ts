import { Hono } from "hono";
import type { WebDeps } from "../web-routes.ts";
import { assetRoutes } from "./serve-assets.ts";

/** The dashboard's pages. */
export function pageRoutes(_deps: WebDeps): Hono {
  return new Hono().route("/", assetRoutes());
}
