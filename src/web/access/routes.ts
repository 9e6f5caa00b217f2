import { Hono } from "hono";
import type { WebDeps } from "../web-routes.ts";

/** Setup, sign-in and sign-out: who may open the dashboard. */
export function accessRoutes(_deps: WebDeps): Hono {
  return new Hono();
}
