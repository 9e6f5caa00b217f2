import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { findApiToken } from "../store/api-tokens.ts";
import type { Database } from "../store/database.ts";
import { projectKey } from "../store/projects.ts";
import { HttpError } from "./http-error.ts";

/** Who is calling: the operator (ENVHOOKS_API_TOKEN), or a token scoped to one project. */
export type Principal =
  | { kind: "operator" }
  | { kind: "project"; tokenId: string; projectKey: string; access: "read" | "write" };

declare module "hono" {
  interface ContextVariableMap {
    principal: Principal;
  }
}

/** Project tokens start with this, so a leaked one is recognisable (and greppable). */
export const PROJECT_TOKEN_PREFIX = "ehk_";

export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

/**
 * Bearer authentication: the operator's `ENVHOOKS_API_TOKEN` (compared in constant time), or a
 * project token (looked up by its SHA-256; only hashes are stored). With no operator token
 * configured the API answers 503 saying what to set, rather than being open.
 */
export function requireApiToken(apiToken: string | undefined, db: Database): MiddlewareHandler {
  const expected = apiToken ? Buffer.from(apiToken) : undefined;
  return async function requireToken(c, next) {
    if (!expected) {
      throw new HttpError(
        503,
        "api_disabled",
        "The API is disabled: set ENVHOOKS_API_TOKEN and restart envhooks.",
      );
    }
    const header = c.req.header("authorization") ?? "";
    const given = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    if (!given) {
      throw new HttpError(401, "unauthorized", "Send the API token as `Authorization: Bearer <token>`.");
    }
    const bytes = Buffer.from(given);
    if (bytes.length === expected.length && timingSafeEqual(bytes, expected)) {
      c.set("principal", { kind: "operator" });
      return next();
    }
    const token = given.startsWith(PROJECT_TOKEN_PREFIX)
      ? await findApiToken(db, hashToken(given))
      : undefined;
    if (!token) throw new HttpError(401, "unauthorized", "The API token is not valid.");
    c.set("principal", {
      kind: "project",
      tokenId: token.id,
      projectKey: token.projectKey,
      access: token.access,
    });
    return next();
  };
}

const READS = new Set(["GET", "HEAD"]);

/**
 * Lets the caller at a project's resources: the operator everywhere, a project token on its own
 * project (and, read-only, only to read). Other projects are 403, never 404: a token learns
 * nothing about what it cannot see.
 */
export function authorizeProject(c: Context, project: string): void {
  const principal = c.get("principal");
  if (principal.kind === "operator") return;
  if (principal.projectKey !== projectKey(project)) {
    throw new HttpError(403, "forbidden", `This token is scoped to ${principal.projectKey}.`);
  }
  if (principal.access === "read" && !READS.has(c.req.method)) {
    throw new HttpError(403, "forbidden", "This token is read-only.");
  }
}

/** Only the operator's token. */
export function authorizeOperator(c: Context, what: string): void {
  if (c.get("principal").kind !== "operator") {
    throw new HttpError(403, "forbidden", `Only ENVHOOKS_API_TOKEN can ${what}.`);
  }
}

/** For paths that name a project (`/api/projects/{owner}/{repo}/…`): authorizes it before the route runs. */
export function authorizeProjectInPath(pattern: RegExp): MiddlewareHandler {
  return async function projectInPath(c, next) {
    const match = pattern.exec(c.req.path);
    if (match?.[1] && match[2])
      authorizeProject(c, `${decodeURIComponent(match[1])}/${decodeURIComponent(match[2])}`);
    return next();
  };
}
