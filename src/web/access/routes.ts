import { timingSafeEqual } from "node:crypto";
import { type Context, Hono } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { html } from "hono/html";
import { hashToken, PROJECT_TOKEN_PREFIX, sameSecret } from "../../http/require-api-token.ts";
import { findApiToken } from "../../store/api-tokens.ts";
import type { WebDeps } from "../web-routes.ts";
import { OAuthError, type UserToken } from "./github-user.ts";
import { LOGIN_CSRF_MAX_AGE_MS, LoginCsrf } from "./login-csrf.ts";
import { hostRefused, publicOrigin } from "./public-origin.ts";
import {
  accessPage,
  csrfRefused,
  formField,
  loadSession,
  randomToken,
  requireSignedIn,
  safeNext,
  verifyCsrf,
} from "./session.ts";
import { setupRoutes } from "./setup.ts";
import { clientAddress, SignInThrottle, type Throttled, trustedProxies } from "./throttle-sign-in.ts";

/** The login form's CSRF token, in a cookie of its own (there is no session yet). */
const LOGIN_CSRF_COOKIE = "envhooks_login_csrf";
/** The OAuth round trip's state and where to go afterwards. */
const OAUTH_COOKIE = "envhooks_oauth";
const OAUTH_MAX_AGE_S = 600;
/** The longest `token` the login form takes. */
const MAX_TOKEN_LENGTH = 1024;

/** Setup, sign-in and sign-out: who may open the dashboard. */
export function accessRoutes(deps: WebDeps): Hono {
  const app = new Hono();
  app.use("*", loadSession(deps));
  app.route("/", setupRoutes(deps));
  const loginCsrf = new LoginCsrf();
  const throttle = new SignInThrottle();
  const isTrustedProxy = trustedProxies(deps.trustedProxies ?? []);

  const cookieOptions = (c: Context, maxAge: number) => ({
    path: "/",
    httpOnly: true,
    sameSite: "Lax" as const,
    secure: deps.sessions.secure(c),
    maxAge,
  });

  async function loginPage(c: Context, status: 200 | 401 | 403 | 429 = 200, problem?: string) {
    const next = safeNext(c.req.query("next") ?? (await formField(c, "next")));
    // A new value for every form rendered, the answer to each attempt included (LoginCsrf).
    const csrf = loginCsrf.issue(deps.sessions.now().getTime());
    await setSignedCookie(
      c,
      LOGIN_CSRF_COOKIE,
      csrf,
      await deps.sessions.cookieKey(),
      cookieOptions(c, LOGIN_CSRF_MAX_AGE_MS / 1000),
    );
    const github = deps.userProjects;
    return accessPage(
      c,
      {
        title: "Sign in",
        body: html`<h1>Sign in to envhooks</h1>
${
  deps.setup?.needed()
    ? html`<p class="notice" role="note">envhooks is not connected to GitHub yet: open the <code>/setup</code>
link from envhooks' log to register the GitHub App.</p>`
    : ""
}
${problem ? html`<p class="error" role="alert" id="login-problem">${problem}</p>` : ""}
${
  github
    ? html`<p><a class="button primary" href="/login/github?next=${encodeURIComponent(next)}">Sign in with GitHub</a></p>
<p>You see the repositories of envhooks' installations that you can access on GitHub: with read
access you can look; with push, maintain or admin you can change integrations and redeploy.</p>
<h2>Or with a token</h2>`
    : html`<p>Sign in with GitHub is not set up on this envhooks (it needs the GitHub App's OAuth client:
GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET). Sign in with a token:</p>`
}
<form method="post" action="/login" class="stack">
  <input type="hidden" name="_csrf" value="${csrf}" />
  <input type="hidden" name="next" value="${next}" />
  <label for="token">Operator token (ENVHOOKS_API_TOKEN) or project token (<code>${PROJECT_TOKEN_PREFIX}…</code>)</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required maxlength="${MAX_TOKEN_LENGTH}"
    ${problem ? html`aria-describedby="login-problem" aria-invalid="true"` : ""} />
  <button type="submit">Sign in</button>
</form>`,
      },
      status,
    );
  }

  app.get("/login", async (c) => {
    if (c.get("session")) return c.redirect(safeNext(c.req.query("next")), 303);
    return loginPage(c);
  });

  /** 429 while the address or the token's prefix has failed too often: how long to wait. */
  function throttled(c: Context, wait: Throttled) {
    c.header("retry-after", String(wait.seconds));
    const minutes = Math.ceil(wait.seconds / 60);
    const from = wait.by === "address" ? "from your address" : "with this token";
    return loginPage(
      c,
      429,
      `Too many failed sign-ins ${from}: try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
    );
  }

  /** Counts a failed token sign-in and logs it (the address and why, never the token). */
  function signInFailed(address: string, token: string, reason: string) {
    deps.log.warn({ address, reason }, "token sign-in failed");
    const now = throttle.failed(address, token, deps.sessions.now().getTime());
    if (now) {
      deps.log.warn(
        { address, by: now.by, retryAfterSeconds: now.seconds },
        `token sign-in throttled: too many failures by ${now.by}`,
      );
    }
  }

  app.post("/login", async (c) => {
    const at = deps.sessions.now().getTime();
    const expected = await getSignedCookie(c, await deps.sessions.cookieKey(), LOGIN_CSRF_COOKIE);
    if (!expected || !sameSecret(await formField(c, "_csrf"), expected) || !loginCsrf.spend(expected, at)) {
      return csrfRefused(c);
    }
    const token = (await formField(c, "token"))?.trim() ?? "";
    const next = safeNext(await formField(c, "next"));
    const address = clientAddress(c, isTrustedProxy);
    // Checked before the token: while waiting, even the right token is not told apart.
    const wait = throttle.wait(address, token, at);
    if (wait) return throttled(c, wait);
    if (token.length > MAX_TOKEN_LENGTH) {
      signInFailed(address, token, "token too long");
      return loginPage(
        c,
        401,
        `That token is too long (over ${MAX_TOKEN_LENGTH} characters): paste the operator token (ENVHOOKS_API_TOKEN) or a project token.`,
      );
    }
    const apiToken = deps.apiToken();
    if (
      apiToken &&
      token.length === apiToken.length &&
      timingSafeEqual(Buffer.from(token), Buffer.from(apiToken))
    ) {
      await deps.sessions.open(c, { kind: "operator" });
    } else {
      const stored = token.startsWith(PROJECT_TOKEN_PREFIX)
        ? await findApiToken(deps.db, hashToken(token))
        : undefined;
      if (!stored) {
        signInFailed(address, token, "token not valid");
        return loginPage(
          c,
          401,
          "That token is not valid: paste the operator token (ENVHOOKS_API_TOKEN) or a live project token.",
        );
      }
      await deps.sessions.open(c, { kind: "project", tokenId: stored.id });
    }
    deleteCookie(c, LOGIN_CSRF_COOKIE, { path: "/", secure: deps.sessions.secure(c) });
    return c.redirect(next, 303);
  });

  app.post("/logout", requireSignedIn, verifyCsrf, async (c) => {
    await deps.sessions.close(c);
    return c.redirect("/login", 303);
  });

  /**
   * The OAuth callback envhooks registers with GitHub (app.yml's callback_url): under
   * ENVHOOKS_PUBLIC_URL, or a loopback origin; undefined for any other Host.
   */
  const callbackUrl = (c: Context) => {
    const origin = publicOrigin(c, deps.publicUrl);
    return origin && `${origin}/login/github/callback`;
  };

  app.get("/login/github", async (c) => {
    const github = deps.userProjects;
    if (!github) return loginPage(c, 403, "Sign in with GitHub is not set up here: sign in with a token.");
    const redirectUri = callbackUrl(c);
    if (!redirectUri) return hostRefused(c);
    const state = randomToken();
    const next = safeNext(c.req.query("next"));
    await setSignedCookie(
      c,
      OAUTH_COOKIE,
      JSON.stringify({ state, next }),
      await deps.sessions.cookieKey(),
      cookieOptions(c, OAUTH_MAX_AGE_S),
    );
    return c.redirect(github.authorizeUrl(redirectUri, state), 302);
  });

  app.get("/login/github/callback", async (c) => {
    const github = deps.userProjects;
    if (!github) return loginPage(c, 403, "Sign in with GitHub is not set up here: sign in with a token.");
    const redirectUri = callbackUrl(c);
    if (!redirectUri) return hostRefused(c);
    const cookie = await getSignedCookie(c, await deps.sessions.cookieKey(), OAUTH_COOKIE);
    deleteCookie(c, OAUTH_COOKIE, { path: "/", secure: deps.sessions.secure(c) });
    const saved = cookie ? (JSON.parse(cookie) as { state: string; next: string }) : undefined;
    // The state first: a callback link made elsewhere gets nothing of its query shown.
    if (!saved || !sameSecret(c.req.query("state"), saved.state)) {
      return loginPage(
        c,
        403,
        "The sign-in with GitHub could not be checked (its state does not match this browser, or it took over 10 minutes): try again.",
      );
    }
    const error = c.req.query("error");
    if (error) {
      // Fixed words only: GitHub's error_description is not shown.
      return loginPage(
        c,
        403,
        error === "access_denied"
          ? "GitHub did not sign you in: the authorization was cancelled. Try again."
          : "GitHub did not sign you in: try again.",
      );
    }
    const code = c.req.query("code");
    if (!code) return loginPage(c, 403, "GitHub sent no code back: try again.");
    let granted: UserToken;
    try {
      granted = await github.exchangeCode(code, redirectUri, deps.sessions.now());
    } catch (problem) {
      if (!(problem instanceof OAuthError)) deps.log.warn({ err: problem }, "OAuth code exchange failed");
      return loginPage(
        c,
        403,
        problem instanceof OAuthError ? problem.message : "GitHub could not be reached: try again.",
      );
    }
    const token = granted.token;
    const [user, answer] = await Promise.all([github.user(token), github.projectsOf(token)]);
    if (answer.kind !== "ok") {
      return loginPage(c, 403, "GitHub did not say which repositories you can access: try again.");
    }
    await deps.sessions.open(c, {
      kind: "user",
      login: user.login,
      githubUserId: user.id,
      token,
      refreshToken: granted.refreshToken,
      tokenExpiresAt: granted.expiresAt,
      projects: answer.projects,
    });
    return c.redirect(safeNext(saved.next), 303);
  });

  return app;
}
