import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { findApiToken } from "../store/api-tokens.ts";
import type { Database } from "../store/database.ts";
import { projectKey } from "../store/projects.ts";
import { HttpError } from "./http-error.ts";

/**
 * Who is calling: the operator (ENVHOOKS_API_TOKEN), a token scoped to one project, or a person
 * signed in with GitHub (the repositories of the App's installations they can access, with their
 * GitHub permission: `pull` reads; `push`, `maintain` and `admin` write).
 */
export type Principal =
  | { kind: "operator" }
  | { kind: "project"; tokenId: string; projectKey: string; access: "read" | "write" }
  | { kind: "user"; login: string; projects: ReadonlyMap<string, RepositoryAccess> };

/**
 * A GitHub user's access to a repository: `read` (pull, triage), `write` (push, maintain) or
 * `admin`, which writes and may also create the repository's project tokens.
 */
export type RepositoryAccess = "read" | "write" | "admin";

/**
 * A browser session behind a cookie: the API accepts it instead of a bearer token (the dashboard's
 * `callApi`). `csrf` must come back in `x-envhooks-csrf` for every method that changes something.
 */
export interface CookieAuth {
  fromCookie(c: Context): Promise<{ principal: Principal; csrf: string } | undefined>;
}

/** The header a cookie-authenticated request that changes something carries its session's CSRF token in. */
export const CSRF_HEADER = "x-envhooks-csrf";

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
 * configured the API answers 503 saying what to set, rather than being open. Without an
 * Authorization header, a dashboard session cookie is accepted (`cookies`); a request by cookie
 * that changes something must carry the session's CSRF token in `x-envhooks-csrf`.
 */
export function requireApiToken(
  apiToken: string | undefined,
  db: Database,
  cookies?: CookieAuth,
): MiddlewareHandler {
  const expected = apiToken ? Buffer.from(apiToken) : undefined;
  return async function requireToken(c, next) {
    if (cookies && !c.req.header("authorization")) {
      const session = await cookies.fromCookie(c);
      if (session) {
        if (!READS.has(c.req.method) && !sameSecret(c.req.header(CSRF_HEADER), session.csrf)) {
          throw new HttpError(
            403,
            "csrf_token_invalid",
            `A request signed in by cookie that changes something must send its session's CSRF token in the ${CSRF_HEADER} header.`,
          );
        }
        c.set("principal", session.principal);
        return next();
      }
    }
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

/** Compares two secrets in constant time (for equal lengths); a missing one never matches. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (!given) return false;
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The access a principal has to a project: write, read, or none (undefined). */
export function accessTo(principal: Principal, project: string): "read" | "write" | undefined {
  const key = projectKey(project);
  if (principal.kind === "operator") return "write";
  if (principal.kind === "project") return principal.projectKey === key ? principal.access : undefined;
  const access = principal.projects.get(key);
  return access === "admin" ? "write" : access;
}

/** Whether the principal may create tokens for a project: the operator, or a GitHub admin of the repository. */
export function mayCreateTokens(principal: Principal, project: string): boolean {
  if (principal.kind === "operator") return true;
  return principal.kind === "user" && principal.projects.get(projectKey(project)) === "admin";
}

/** The caller's access to a project it was let at (authorizeProject): what the answer may show. */
export const callerAccess = (c: Context, project: string): "read" | "write" =>
  accessTo(c.get("principal"), project) ?? "read";

export const canRead = (principal: Principal, project: string) => accessTo(principal, project) !== undefined;
export const canWrite = (principal: Principal, project: string) => accessTo(principal, project) === "write";

/** The projects a principal may see: "all" for the operator, else their keys (lower case `owner/repo`). */
export function visibleProjectKeys(principal: Principal): "all" | string[] {
  if (principal.kind === "operator") return "all";
  if (principal.kind === "project") return [principal.projectKey];
  return [...principal.projects.keys()];
}

/**
 * Lets the caller at a project's resources: the operator everywhere, a project token on its own
 * project (and, read-only, only to read). Other projects are 403, never 404: a token learns
 * nothing about what it cannot see.
 */
export function authorizeProject(c: Context, project: string): void {
  const principal = c.get("principal");
  if (principal.kind === "operator") return;
  if (principal.kind === "user") {
    const access = principal.projects.get(projectKey(project));
    if (!access) {
      throw new HttpError(
        403,
        "forbidden",
        `${principal.login} has no access to ${projectKey(project)} on GitHub.`,
      );
    }
    if (access === "read" && !READS.has(c.req.method)) {
      throw new HttpError(
        403,
        "forbidden",
        `${principal.login} may only read ${projectKey(project)}: changing it takes push, maintain or admin permission on GitHub.`,
      );
    }
    return;
  }
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
