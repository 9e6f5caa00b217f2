import { ProbotOctokit } from "probot";
import type { RepositoryAccess } from "../../http/require-api-token.ts";
import { projectKey } from "../../store/projects.ts";

/** The GitHub App's OAuth client and where GitHub is (github.com, or GitHub Enterprise Server). */
export interface GithubOAuth {
  clientId: string;
  clientSecret: string;
  /** Web root, e.g. https://github.com: /login/oauth/authorize and /login/oauth/access_token. */
  webUrl: string;
  /** REST root, e.g. https://api.github.com. */
  apiUrl: string;
  /** Probot's Octokit class (tests turn its retries off). */
  Octokit?: typeof ProbotOctokit;
}

export type ProjectsAnswer =
  | { kind: "ok"; projects: Record<string, RepositoryAccess> }
  /**
   * GitHub refused the token (401), or would not list the user's installations (403, 404): revoked,
   * expired, blocked (SSO, rate or abuse limits), or the app was uninstalled for this user.
   */
  | { kind: "refused" }
  | { kind: "unavailable"; error: unknown };

/** A user's token, with its refresh token when GitHub makes it expire. */
export interface UserToken {
  token: string;
  refreshToken?: string | undefined;
  expiresAt?: Date | undefined;
}

/** What sign-in with GitHub needs from GitHub. */
export interface UserProjects {
  oauth: GithubOAuth;
  /** The URL the browser is sent to, to authorize envhooks. */
  authorizeUrl(redirectUri: string, state: string): string;
  /** Exchanges the code GitHub sent back for the user's token. */
  exchangeCode(code: string, redirectUri: string, now?: Date): Promise<UserToken>;
  /** A new token for an expired one (throws OAuthError when GitHub refuses the refresh token). */
  refresh(refreshToken: string, now?: Date): Promise<UserToken>;
  /** Who the token belongs to. */
  user(token: string): Promise<{ login: string; id: number }>;
  /**
   * The repositories of the App's installations the user can access, with their permission:
   * `pull` reads; `push`, `maintain`, `admin` write. Repositories with none are left out.
   */
  projectsOf(token: string): Promise<ProjectsAnswer>;
}

/** How long one call to GitHub's REST API may take. */
export const REQUEST_TIMEOUT_MS = 5_000;

/** GitHub's answer to a refused OAuth exchange, shown to the person. */
export class OAuthError extends Error {}

/** A user's permission on a repository as envhooks uses it. */
export function accessOf(permissions: Record<string, boolean> | undefined): RepositoryAccess | undefined {
  if (!permissions) return undefined;
  if (permissions.admin) return "admin";
  if (permissions.maintain || permissions.push) return "write";
  if (permissions.pull || permissions.triage) return "read";
  return undefined;
}

export function githubUserAccess(oauth: GithubOAuth): UserProjects {
  /** POST /login/oauth/access_token: a code or a refresh token for a user token. */
  async function tokenRequest(grant: Record<string, string>, now = new Date()): Promise<UserToken> {
    // https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
    const response = await fetch(new URL("/login/oauth/access_token", oauth.webUrl), {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify({ client_id: oauth.clientId, client_secret: oauth.clientSecret, ...grant }),
      signal: AbortSignal.timeout(10_000),
    });
    const answer = (await response.json().catch(() => ({}))) as {
      access_token?: string;
      refresh_token?: string;
      expires_in?: number;
      error?: string;
      error_description?: string;
    };
    if (!response.ok || !answer.access_token) {
      throw new OAuthError(
        `GitHub did not give a token: ${answer.error_description ?? answer.error ?? `HTTP ${response.status}`}.`,
      );
    }
    return {
      token: answer.access_token,
      refreshToken: answer.refresh_token,
      expiresAt: answer.expires_in ? new Date(now.getTime() + answer.expires_in * 1000) : undefined,
    };
  }

  const Octokit = oauth.Octokit ?? ProbotOctokit;

  const client = (token: string) => {
    const octokit = new Octokit({
      auth: { token },
      baseUrl: oauth.apiUrl,
      throttle: { enabled: false },
      retry: { enabled: false },
    });
    // Each call to GitHub is given REQUEST_TIMEOUT_MS: a check that hangs must not hold the page.
    octokit.hook.wrap("request", (request, options) =>
      request({
        ...options,
        request: { ...options.request, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
      }),
    );
    return octokit;
  };
  return {
    oauth,
    authorizeUrl(redirectUri, state) {
      const url = new URL("/login/oauth/authorize", oauth.webUrl);
      url.searchParams.set("client_id", oauth.clientId);
      url.searchParams.set("redirect_uri", redirectUri);
      url.searchParams.set("state", state);
      url.searchParams.set("allow_signup", "false");
      return url.toString();
    },
    exchangeCode: (code, redirectUri, now) => tokenRequest({ code, redirect_uri: redirectUri }, now),
    // https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens
    refresh: (refreshToken, now) =>
      tokenRequest({ grant_type: "refresh_token", refresh_token: refreshToken }, now),
    async user(token) {
      const { data } = await client(token).request("GET /user");
      return { login: data.login, id: Number(data.id) };
    },
    async projectsOf(token) {
      const octokit = client(token);
      try {
        const projects: Record<string, RepositoryAccess> = {};
        // https://docs.github.com/en/rest/apps/installations#list-app-installations-accessible-to-the-user-access-token
        const installations = await octokit.paginate("GET /user/installations", { per_page: 100 });
        for (const installation of installations) {
          const repositories = await octokit.paginate(
            "GET /user/installations/{installation_id}/repositories",
            {
              installation_id: installation.id,
              per_page: 100,
            },
          );
          for (const repository of repositories) {
            const access = accessOf(repository.permissions as Record<string, boolean> | undefined);
            if (access) projects[projectKey(repository.full_name)] = access;
          }
        }
        return { kind: "ok", projects };
      } catch (error) {
        const status = (error as { status?: number }).status;
        // 403 and 404 fail closed too: an answer that is not the list is no permission.
        if (status === 401 || status === 403 || status === 404) return { kind: "refused" };
        return { kind: "unavailable", error };
      }
    },
  };
}
