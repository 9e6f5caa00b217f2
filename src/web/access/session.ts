import { createHash, randomBytes } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { html } from "hono/html";
import type { Logger } from "pino";
import { newActivityId } from "../../activity/activity-id.ts";
import {
  type CookieAuth,
  CSRF_HEADER,
  hashToken,
  type Principal,
  type RepositoryAccess,
  sameSecret,
} from "../../http/require-api-token.ts";
import type { Database } from "../../store/database.ts";
import { type SecretBox, SecretKeyError } from "../../store/secret-box.ts";
import {
  deleteWebSession,
  deleteWebSessionsOfToken,
  findWebSession,
  insertWebSession,
  keepWebSetting,
  liveProjectToken,
  pruneWebSessions,
  recheckedWebSession,
  refreshedWebSession,
  replaceWebSetting,
  touchWebSession,
  type WebSession,
} from "../../store/web-sessions.ts";
import { CONTENT_SECURITY_POLICY, type LayoutOptions, layout } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";
import { OAuthError, type UserProjects } from "./github-user.ts";

/** The session of a signed-in person, as pages see it: its id and the CSRF token its forms carry. */
export interface SessionInfo {
  id: string;
  csrf: string;
}

declare module "hono" {
  interface ContextVariableMap {
    session: SessionInfo;
  }
}

export const SESSION_COOKIE = "envhooks_session";
/** A session unused this long ends. */
export const SESSION_IDLE_MS = 8 * 3600_000;
/** A session ends this long after sign-in, used or not. */
export const SESSION_MAX_MS = 7 * 24 * 3600_000;
/** A GitHub user's repositories and permissions are asked again after this long (on the next request). */
export const RECHECK_MS = 10 * 60_000;
/**
 * Permissions GitHub has not confirmed for this long are not used: the session reads nothing
 * until GitHub answers again (it stays open, so access comes back with GitHub).
 */
export const CONFIRMED_FOR_MS = 2 * RECHECK_MS;
/** After GitHub could not be asked, it is not asked again for this session before this long. */
export const RECHECK_BACKOFF_MS = 30_000;
/** last_seen_at is written at most this often per session. */
const TOUCH_EVERY_MS = 60_000;

/** What opened a session. */
export type SignIn =
  | { kind: "operator" }
  | { kind: "project"; tokenId: string }
  | {
      kind: "user";
      login: string;
      githubUserId: number;
      /** The user's GitHub token (sealed before it is stored, or not stored when secrets are kept plain). */
      token: string;
      /** With an expiring token: the refresh token (kept like the token) and when the token expires. */
      refreshToken?: string | undefined;
      tokenExpiresAt?: Date | undefined;
      projects: Record<string, RepositoryAccess>;
    };

export interface SessionsOptions {
  db: Database;
  log: Logger;
  /** Seals the GitHub user's token and the cookie-signing key. */
  secrets: SecretBox;
  /** ENVHOOKS_API_TOKEN now: a session opened with another operator token ends. */
  apiToken: () => string | undefined;
  /** Asks GitHub what a user's token may access (undefined: sign-in with GitHub is not configured). */
  userProjects?: (() => UserProjects | undefined) | undefined;
  now?: () => Date;
  /** ENVHOOKS_PUBLIC_URL: with https, cookies are Secure even behind a proxy that speaks http. */
  publicUrl?: string | undefined;
}

/** Browser sessions: opened at sign-in, read from the cookie on each request, ended at logout or expiry. */
export interface Sessions extends CookieAuth {
  /** The principal and session of the request's cookie (GitHub is asked again when the last check is 10 minutes old). */
  fromCookie(c: Context): Promise<{ principal: Principal; csrf: string; session: SessionInfo } | undefined>;
  /** Opens a session and sets its cookie. */
  open(c: Context, signIn: SignIn): Promise<SessionInfo>;
  /** Ends the request's session and clears its cookie. */
  close(c: Context): Promise<void>;
  /** The key that signs cookies (also the OAuth state and the login form's CSRF cookie). */
  cookieKey(): Promise<string>;
  /** Whether cookies get `Secure` for this request. */
  secure(c: Context): boolean;
  now(): Date;
}

const COOKIE_KEY_SETTING = "cookie_key";

export function createSessions(options: SessionsOptions): Sessions {
  const { db, log, secrets } = options;
  const now = options.now ?? (() => new Date());
  let cookieKey: Promise<string> | undefined;
  const rechecks = new Map<string, Promise<WebSession | undefined>>();
  /** Sessions whose last check could not reach GitHub: when it failed (ms). */
  const failedChecks = new Map<string, number>();
  const checkFailed = (sessionId: string) => {
    const at = now().getTime();
    if (failedChecks.size > 10_000) {
      for (const [id, when] of failedChecks) if (at - when >= RECHECK_BACKOFF_MS) failedChecks.delete(id);
    }
    failedChecks.set(sessionId, at);
  };

  /**
   * The cookie-signing key: generated once, kept in the database (web_settings) sealed with the
   * secret box — ENVHOOKS_SECRET_KEY or the embedded store's key file — so every instance signs
   * alike. A key the box no longer opens (the secret key was replaced) is replaced: sessions end.
   */
  async function loadCookieKey(): Promise<string> {
    const stored = await keepWebSetting(
      db,
      COOKIE_KEY_SETTING,
      secrets.seal(randomBytes(32).toString("base64url")),
    );
    try {
      const key = secrets.open(stored);
      if (secrets.isStale(stored)) await replaceWebSetting(db, COOKIE_KEY_SETTING, secrets.seal(key));
      return key;
    } catch (error) {
      if (!(error instanceof SecretKeyError)) throw error;
      log.warn(
        "the cookie-signing key was sealed with a key envhooks no longer holds: a new one ends every session",
      );
      const key = randomBytes(32).toString("base64url");
      await replaceWebSetting(db, COOKIE_KEY_SETTING, secrets.seal(key));
      return key;
    }
  }
  const key = () => {
    cookieKey ??= loadCookieKey().catch((error) => {
      cookieKey = undefined;
      throw error;
    });
    return cookieKey;
  };

  const secure = (c: Context) =>
    new URL(c.req.url).protocol === "https:" ||
    c.req.header("x-forwarded-proto") === "https" ||
    Boolean(options.publicUrl?.startsWith("https:"));

  function principalOf(session: WebSession, at: Date): Principal | undefined {
    if (session.kind === "operator") return { kind: "operator" };
    if (session.kind === "user") {
      const checked = session.checkedAt ? new Date(session.checkedAt).getTime() : 0;
      // Permissions GitHub has not confirmed lately (it could not be asked) give no access.
      const confirmed = at.getTime() - checked < CONFIRMED_FOR_MS;
      return {
        kind: "user",
        login: session.login ?? "",
        projects: new Map(confirmed ? Object.entries(session.projects) : []),
      };
    }
    return undefined;
  }

  /** Asks GitHub again what the user may access; undefined when the session has ended. */
  async function recheck(session: WebSession): Promise<WebSession | undefined> {
    const github = options.userProjects?.();
    const end = async (why: string) => {
      log.info({ login: session.login }, `${why}: the session ends`);
      failedChecks.delete(session.id);
      await deleteWebSession(db, session.id);
      return undefined;
    };
    if (!github || !session.userToken) {
      // Without a kept token (secrets stored plain) or without OAuth, nothing can be asked: sign in again.
      return end("the user's permissions cannot be checked again");
    }
    let token: string;
    let refreshToken: string | undefined;
    try {
      token = secrets.open(session.userToken);
      refreshToken = session.refreshToken ? secrets.open(session.refreshToken) : undefined;
    } catch {
      return end("the user's token no longer decrypts");
    }
    let current = session;
    let refreshed = false;
    /** A new user token from the refresh token; false when GitHub refuses it. */
    const refresh = async (): Promise<boolean | "unavailable"> => {
      if (!refreshToken || refreshed) return false;
      refreshed = true;
      try {
        const fresh = await github.refresh(refreshToken, now());
        token = fresh.token;
        refreshToken = fresh.refreshToken ?? refreshToken;
        const tokens = {
          userToken: secrets.seal(fresh.token),
          refreshToken: secrets.seal(refreshToken),
          tokenExpiresAt: fresh.expiresAt ?? null,
        };
        await refreshedWebSession(db, session.id, tokens);
        current = { ...current, ...tokens };
        return true;
      } catch (error) {
        if (error instanceof OAuthError) return false;
        log.warn({ login: session.login, err: error }, "could not refresh the user's token");
        return "unavailable";
      }
    };
    const expires = session.tokenExpiresAt ? new Date(session.tokenExpiresAt).getTime() : undefined;
    if (expires !== undefined && expires - 60_000 <= now().getTime()) {
      const outcome = await refresh();
      if (outcome === false) return end("the user's token expired and GitHub refused its refresh token");
      if (outcome === "unavailable") {
        checkFailed(session.id);
        return current;
      }
    }
    let answer = await github.projectsOf(token);
    if (answer.kind === "refused") {
      const outcome = await refresh();
      if (outcome === false) return end("GitHub refused the user's token");
      if (outcome === "unavailable") {
        checkFailed(session.id);
        return current;
      }
      answer = await github.projectsOf(token);
      if (answer.kind === "refused") return end("GitHub refused the user's refreshed token");
    }
    if (answer.kind === "unavailable") {
      // GitHub is out of reach: the permissions last seen stay for 20 minutes after GitHub last
      // confirmed them (principalOf), and GitHub is asked again 30 s later at the soonest.
      log.warn(
        { login: session.login, err: answer.error },
        "could not ask GitHub for the user's permissions",
      );
      checkFailed(session.id);
      return current;
    }
    failedChecks.delete(session.id);
    const checkedAt = now();
    await recheckedWebSession(db, session.id, answer.projects, checkedAt);
    return { ...current, projects: answer.projects, checkedAt };
  }

  /** The id of the session the request's cookie names, whatever it may access. */
  async function sessionIdOfCookie(c: Context, at: Date): Promise<string | undefined> {
    const token = await getSignedCookie(c, await key(), SESSION_COOKIE);
    return token ? (await findWebSession(db, hashToken(token), at))?.id : undefined;
  }

  const sessions: Sessions = {
    now,
    secure,
    cookieKey: key,
    async fromCookie(c) {
      const token = await getSignedCookie(c, await key(), SESSION_COOKIE);
      if (!token) return undefined;
      const at = now();
      let session = await findWebSession(db, hashToken(token), at);
      if (!session) return undefined;
      let principal: Principal | undefined;
      if (session.kind === "operator") {
        const apiToken = options.apiToken();
        if (!apiToken || session.operatorTokenHash !== hashToken(apiToken)) {
          await deleteWebSession(db, session.id);
          return undefined;
        }
        principal = { kind: "operator" };
      } else if (session.kind === "project") {
        const live = session.tokenId ? await liveProjectToken(db, session.tokenId) : undefined;
        if (!live) {
          // The token was revoked: so is every session it opened.
          await (session.tokenId
            ? deleteWebSessionsOfToken(db, session.tokenId)
            : deleteWebSession(db, session.id));
          return undefined;
        }
        principal = { kind: "project", tokenId: live.id, projectKey: live.projectKey, access: live.access };
      } else {
        const failedAt = failedChecks.get(session.id);
        const backingOff = failedAt !== undefined && at.getTime() - failedAt < RECHECK_BACKOFF_MS;
        if (
          !backingOff &&
          (!session.checkedAt || at.getTime() - new Date(session.checkedAt).getTime() >= RECHECK_MS)
        ) {
          const current = session;
          let pending = rechecks.get(current.id);
          if (!pending) {
            pending = recheck(current).finally(() => rechecks.delete(current.id));
            rechecks.set(current.id, pending);
          }
          session = await pending;
          if (!session) return undefined;
        }
        principal = principalOf(session, at);
      }
      if (!principal) return undefined;
      if (at.getTime() - new Date(session.lastSeenAt).getTime() >= TOUCH_EVERY_MS) {
        const ceiling = new Date(session.createdAt).getTime() + SESSION_MAX_MS;
        await touchWebSession(
          db,
          session.id,
          at,
          new Date(Math.min(at.getTime() + SESSION_IDLE_MS, ceiling)),
        );
      }
      const info = { id: session.id, csrf: session.csrf };
      return { principal, csrf: session.csrf, session: info };
    },
    async open(c, signIn) {
      const token = randomBytes(32).toString("base64url");
      const at = now();
      const apiToken = options.apiToken();
      const session: WebSession = {
        id: newActivityId(),
        csrf: randomBytes(24).toString("base64url"),
        kind: signIn.kind,
        operatorTokenHash: signIn.kind === "operator" && apiToken ? hashToken(apiToken) : null,
        tokenId: signIn.kind === "project" ? signIn.tokenId : null,
        login: signIn.kind === "user" ? signIn.login : null,
        githubUserId: signIn.kind === "user" ? signIn.githubUserId : null,
        // Stored only encrypted: without a secret key, the token is not kept (and the session
        // lasts until the next check, 10 minutes).
        userToken: signIn.kind === "user" && secrets.encrypts ? secrets.seal(signIn.token) : null,
        refreshToken:
          signIn.kind === "user" && secrets.encrypts && signIn.refreshToken
            ? secrets.seal(signIn.refreshToken)
            : null,
        tokenExpiresAt: signIn.kind === "user" ? (signIn.tokenExpiresAt ?? null) : null,
        projects: signIn.kind === "user" ? signIn.projects : {},
        checkedAt: signIn.kind === "user" ? at : null,
        createdAt: at,
        lastSeenAt: at,
        expiresAt: new Date(at.getTime() + SESSION_IDLE_MS),
      };
      // Signing in again ends the session the browser had: its row does not outlive its cookie.
      const previous = c.get("session")?.id ?? (await sessionIdOfCookie(c, at));
      if (previous) await deleteWebSession(db, previous);
      // Sessions that expired are removed as new ones open (one indexed delete).
      await pruneWebSessions(db, at);
      await insertWebSession(db, { ...session, tokenHash: hashToken(token) });
      await setSignedCookie(c, SESSION_COOKIE, token, await key(), {
        path: "/",
        httpOnly: true,
        sameSite: "Lax",
        secure: secure(c),
        maxAge: SESSION_MAX_MS / 1000,
      });
      const info = { id: session.id, csrf: session.csrf };
      c.set("session", info);
      return info;
    },
    async close(c) {
      const session = c.get("session") ?? (await sessions.fromCookie(c))?.session;
      if (session) await deleteWebSession(db, session.id);
      deleteCookie(c, SESSION_COOKIE, { path: "/", secure: secure(c) });
    },
  };
  return sessions;
}

const loaded = new WeakSet<Request>();

/** Reads the session cookie: sets `principal` and `session` for a valid session, nothing otherwise. */
export function loadSession(deps: Pick<WebDeps, "sessions">): MiddlewareHandler {
  return async function loadSessionCookie(c, next) {
    // Mounted once for /login and once for the pages: the cookie is read once per request.
    if (loaded.has(c.req.raw)) return next();
    loaded.add(c.req.raw);
    const found = await deps.sessions.fromCookie(c);
    if (found) {
      c.set("principal", found.principal);
      c.set("session", found.session);
    }
    return next();
  };
}

/** Without a session, sends the browser to /login and back here afterwards (303). */
export const requireSignedIn: MiddlewareHandler = async function requireSignedIn(c, next) {
  if (c.get("session")) return next();
  const url = new URL(c.req.url);
  return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
};

/** The hidden `_csrf` field every form of a signed-in page carries. */
export function csrfField(c: Context) {
  const session = c.get("session");
  return session ? html`<input type="hidden" name="_csrf" value="${session.csrf}" />` : html``;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * For form routes: a request that changes something must carry the session's CSRF token, as the
 * `_csrf` form field or the `x-envhooks-csrf` header. Otherwise 403 with a page that says so.
 */
export const verifyCsrf: MiddlewareHandler = async function verifyCsrf(c, next) {
  if (SAFE_METHODS.has(c.req.method)) return next();
  const session = c.get("session");
  const given = c.req.header(CSRF_HEADER) ?? (await formField(c, "_csrf"));
  if (session && sameSecret(given, session.csrf)) return next();
  return csrfRefused(c);
};

/** A form field of a urlencoded or multipart body (the body stays readable for the route). */
export async function formField(c: Context, name: string): Promise<string | undefined> {
  const type = c.req.header("content-type") ?? "";
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) return undefined;
  const body = await c.req.parseBody();
  const value = body[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * A page of setup or sign-in in the layout, under the dashboard's content security policy;
 * `formAction` adds an origin forms may post to (GitHub, for the App's manifest).
 */
export function accessPage(
  c: Context,
  options: LayoutOptions,
  status: 200 | 401 | 403 | 404 | 409 | 413 | 421 | 429 | 500 | 502 = 200,
  formAction?: string,
) {
  const policy = formAction
    ? CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'",
        `form-action 'self' ${new URL(formAction).origin}`,
      )
    : CONTENT_SECURITY_POLICY;
  c.header("content-security-policy", policy);
  c.header("x-content-type-options", "nosniff");
  c.header("referrer-policy", "same-origin");
  c.header("cache-control", "no-store");
  return c.html(layout(c, options), status);
}

/** 403 for a form without a valid `_csrf`: what happened and what to do. */
export function csrfRefused(c: Context) {
  return accessPage(
    c,
    {
      title: "Form refused",
      body: html`<h1>Form refused</h1>
<p role="alert">This form was refused: its security token (<code>_csrf</code>) is missing or does not match
your session. It happens when a form is sent from another site, or from a page opened before you
signed in again.</p>
<p><a href="/">Go back</a>, reload the page and send the form again.</p>`,
    },
    403,
  );
}

/**
 * A `next` parameter as a same-origin path; anything else (another origin, `//host`, `/\\host`,
 * or a path that normalises to one) is "/".
 */
export function safeNext(next: string | undefined | null): string {
  if (!next?.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  // Control characters and backslashes let some browsers read the path as another origin.
  if ([...next].some((char) => char === "\\" || char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f))
    return "/";
  try {
    const url = new URL(next, "http://envhooks.invalid");
    if (url.origin !== "http://envhooks.invalid") return "/";
    // The parser normalises the path (`/.//evil`, `/..//evil`, `/%2e%2e//evil` become `//evil`):
    // what comes out is checked again, as a browser would read it.
    const path = url.pathname + url.search + url.hash;
    if (path.startsWith("//") || path.startsWith("/\\")) return "/";
    return path;
  } catch {
    return "/";
  }
}

/** A random token as sent in a cookie. */
export const randomToken = () => randomBytes(24).toString("base64url");

/** The SHA-256 of a value, hex. */
export const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");
