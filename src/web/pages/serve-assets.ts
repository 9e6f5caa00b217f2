import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";

const ASSETS_DIR = join(import.meta.dirname, "..", "assets");

const TYPES: Record<string, string> = {
  "app.css": "text/css; charset=utf-8",
  "live.js": "text/javascript; charset=utf-8",
  "page.js": "text/javascript; charset=utf-8",
  "favicon.svg": "image/svg+xml",
};

/** The dashboard's few files, read once at start and served by envhooks itself. */
export function assetRoutes(): Hono {
  const files = new Map(
    Object.entries(TYPES).map(([name, type]) => [name, { type, body: readFileSync(join(ASSETS_DIR, name)) }]),
  );
  const app = new Hono();
  app.get("/assets/:name", (c) => {
    const file = files.get(c.req.param("name"));
    if (!file) return c.text("Not found", 404);
    return c.body(file.body, 200, {
      "content-type": file.type,
      "cache-control": "public, max-age=300",
      "x-content-type-options": "nosniff",
    });
  });
  return app;
}
