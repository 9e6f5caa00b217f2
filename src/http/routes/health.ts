import { Hono } from "hono";

/** Liveness and readiness probes; no authentication. */
export function healthRoutes(isReady: () => boolean) {
  return new Hono()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", (c) => (isReady() ? c.json({ status: "ready" }) : c.json({ status: "starting" }, 503)));
}
