import { createHash, generateKeyPairSync } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedCall {
  method: string;
  path: string;
  query: string;
  body: any;
  /** When it was answered (Date.now()); when it arrived until then. */
  at: number;
  /** The installation whose token made the call (null: the App's JWT or no token). */
  installationId: number | null;
  /** The status answered; 0 until answered. */
  status: number;
}

export interface FakeDeployment {
  id: number;
  ref: string;
  environment: string;
  transient_environment: boolean;
  production_environment: boolean;
  statuses: Array<{ state: string; environment_url?: string; log_url?: string; description?: string }>;
}

/** A workflow run started through `workflow_dispatch`. */
export interface FakeWorkflowRun {
  id: number;
  repository: string;
  workflow: string;
  ref: string;
  inputs: Record<string, string>;
  status: "queued" | "in_progress" | "completed";
  conclusion: string | null;
  html_url: string;
  /** Whether a cancel was asked for (GitHub cancels a run asynchronously). */
  cancelRequested: boolean;
}

export interface FakeGithubOptions {
  /** Every answer is delayed by this much (GitHub answers in ~100 ms from most places). */
  latencyMs?: number;
  /** Spread of the delay as a share of latencyMs, uniform: 0.3 is latencyMs ± 30 %. */
  jitter?: number;
  /** Each installation's requests an hour (GitHub: 5,000, up to 12,500). */
  rateLimit?: number;
}

interface Budget {
  remaining: number;
  /** When the budget is full again (epoch ms). */
  resetAt: number;
}

type Answer = {
  status: number;
  json?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  /** An HTML page (GitHub's web side). */
  html?: string;
};

/** A person who can sign in to the fake GitHub, and what they can access through the App. */
export interface FakeUser {
  login: string;
  id: number;
  /** The App's installations the user can access, each with its repositories and the user's permissions. */
  installations: Array<{
    id: number;
    account: string;
    repositories: Array<{ full_name: string; permissions: Record<string, boolean> }>;
  }>;
}

/** A repository permission as GitHub's `permissions` object spells it, for a role. */
export function repositoryPermissions(
  role: "pull" | "triage" | "push" | "maintain" | "admin",
): Record<string, boolean> {
  const order = ["pull", "triage", "push", "maintain", "admin"];
  const level = order.indexOf(role);
  return Object.fromEntries(order.map((name, n) => [name, n <= level]));
}

/** An app registered through the manifest flow, as the fake keeps it. */
export interface FakeRegisteredApp {
  manifest: any;
  /** `user` or the organisation it was registered for. */
  owner: string;
  code: string;
  converted: boolean;
  id: number;
  slug: string;
  clientId: string;
  clientSecret: string;
  webhookSecret: string;
}

/**
 * A delivery of the App's webhook as GitHub keeps it (3 days), with the fields
 * `GET /app/hook/deliveries` lists: https://docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook
 */
/** A repository a resync lists: its branches and open pull requests (GitHub's shapes). */
export interface FakeRepository {
  id: number;
  /** The name GitHub has for it now, when it is asked for under another (a rename). */
  full_name?: string;
  default_branch: string;
  branches: Array<{ name: string; sha: string }>;
  /** Open pull requests, as `GET /repos/{owner}/{repo}/pulls` lists them. */
  pulls: Array<Record<string, any>>;
}

export interface FakeHookDelivery {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  duration: number;
  /** `OK`, or what went wrong (`failed to connect to host`, `Invalid HTTP Response: 503`). */
  status: string;
  /** What the App answered; 0 when it did not answer. */
  status_code: number;
  event: string;
  action: string | null;
  installation_id: number | null;
  repository_id: number | null;
  /** The body, for a redelivery (not listed). */
  payload?: unknown;
}

const WRITE_METHODS = new Set(["POST", "PATCH", "PUT", "DELETE"]);
/** GitHub serves a file's content in the contents API only up to 1 MB. */
const CONTENTS_LIMIT = 1024 * 1024;

/** The git blob sha of `text`, as GitHub names file versions. */
export function blobSha(text: string): string {
  return createHash("sha1")
    .update(`blob ${Buffer.byteLength(text)}\0`)
    .update(text)
    .digest("hex");
}

/**
 * A local stand-in for GitHub's REST API: installation tokens, repository contents, compare,
 * deployments and their statuses, commit statuses, comments, labels and permissions, answered
 * after an optional latency with GitHub's rate-limit headers. Only GitHub is faked; every call is
 * recorded so a test can prove the calls it expects were made.
 */
export class FakeGithub {
  readonly calls: RecordedCall[] = [];
  readonly privateKey: string;
  /** `.github/envhooks.yml` per repository (`owner/repo`, also `owner/.github`). */
  readonly configFiles = new Map<string, string>();
  /** Answers 500 to this many contents requests before answering normally. */
  failContents = 0;
  /** How many workflow dispatches start their run and then lose the answer (502, as a dropped connection). */
  loseDispatchAnswers = 0;
  /** Holds every contents request until this promise settles. */
  holdContents: Promise<void> | undefined;
  /** `repository_dispatch` events created (`POST /repos/{owner}/{repo}/dispatches`), in order. */
  readonly repositoryDispatches: Array<{ repository: string; event_type: string; client_payload: any }> = [];
  /** Runs started with `workflow_dispatch`, in order. */
  readonly workflowRuns: FakeWorkflowRun[] = [];
  /**
   * Whether `return_run_details` is understood: false answers 400 to it, as GitHub Enterprise
   * Server did before 3.21.
   */
  returnRunDetails = true;
  /** Deployments made through the API, with their statuses. */
  readonly deployments: FakeDeployment[] = [];
  /** Commit statuses by sha. */
  readonly commitStatuses = new Map<string, Array<{ state: string; context: string; target_url?: string }>>();
  /** Check suites by head sha (`GET /commits/{sha}/check-suites`), as a test sets them. */
  readonly checkSuites = new Map<
    string,
    Array<{ id: number; status: string; conclusion: string | null; app: { slug: string; name: string } }>
  >();
  /** Check runs by head sha (`GET /commits/{sha}/check-runs`), as a test sets them. */
  readonly checkRuns = new Map<
    string,
    Array<{
      id: number;
      name: string;
      status: string;
      conclusion: string | null;
      html_url: string;
      check_suite: { id: number };
    }>
  >();
  /** Required status checks of a branch's protection (`GET /branches/{branch}`), by branch. */
  readonly protectedBranches = new Map<string, string[]>();
  /** Required status checks of the rulesets applying to a branch (`GET /rules/branches/{branch}`). */
  readonly rulesetChecks = new Map<string, string[]>();
  /** Issue and pull request comments by number. */
  readonly comments = new Map<number, Array<{ id: number; body: string }>>();
  /** Labels on each pull request. */
  readonly labels = new Map<number, string[]>();
  /** Each user's permission on the repository (GitHub's `permission`: admin, write, read, none). */
  readonly permissions = new Map<string, string>();
  /** The commits of `GET /compare/{base}...{head}`, by `base...head`; any other compare is a 404. */
  readonly compares = new Map<string, unknown[]>();
  /** The changed files of `GET /compare/{base}...{head}` (GitHub lists 300 at most), by `base...head`. */
  readonly compareFiles = new Map<string, string[]>();
  /** How many commits of `base` `head` lacks (GitHub's `behind_by`: a force push dropped them), by `base...head`. */
  readonly compareBehindBy = new Map<string, number>();
  /** People who can sign in with OAuth, by login. */
  readonly users = new Map<string, FakeUser>();
  /** Who is signed in to the fake GitHub in the browser: the next OAuth authorize answers for them. */
  signedInAs: string | undefined;
  /** The App's OAuth client; the code exchange checks it. Set by a manifest conversion, or by a test. */
  oauthClient: { clientId: string; clientSecret: string } | undefined;
  /** Apps registered through the manifest flow, in order. */
  readonly registeredApps: FakeRegisteredApp[] = [];
  /**
   * Repositories for a resync, by `owner/repo` as asked (a renamed one under its old name too):
   * `GET /repos/{owner}/{repo}`, its branches and its open pull requests, paginated as GitHub does.
   */
  readonly repositories = new Map<string, FakeRepository>();
  /** The App's webhook deliveries (`GET /app/hook/deliveries`), in the order they were made. */
  readonly hookDeliveries: FakeHookDelivery[] = [];
  /**
   * Sends a redelivery asked for with `POST /app/hook/deliveries/{id}/attempts` (as GitHub would,
   * to the App's webhook URL) and answers the status the App gave; unset: nothing is sent.
   */
  redeliverTo: ((delivery: FakeHookDelivery) => Promise<number>) | undefined;
  /**
   * Whether user tokens expire (GitHub's "Expire user authorization tokens", on by default): the
   * token exchange then also gives a refresh token and `expires_in`.
   */
  userTokensExpire = false;
  readonly #userTokens = new Map<string, { login: string; revoked: boolean }>();
  readonly #refreshTokens = new Map<string, { login: string; used: boolean; revoked: boolean }>();
  readonly #oauthCodes = new Map<string, { login: string; clientId: string; redirectUri: string }>();
  readonly #latencyMs: number;
  readonly #jitter: number;
  readonly #rateLimit: number;
  readonly #budgets = new Map<number, Budget>();
  #secondary = { times: 0, retryAfterSeconds: 60 };
  #failures: Array<{ method: string; path: RegExp; status: number; times: number }> = [];
  #nextId = 1000;
  #server: Server | undefined;

  constructor({ latencyMs = 0, jitter = 0, rateLimit = 5000 }: FakeGithubOptions = {}) {
    this.#latencyMs = latencyMs;
    this.#jitter = jitter;
    this.#rateLimit = rateLimit;
    this.privateKey = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs1", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    }).privateKey;
  }

  get baseUrl(): string {
    const address = this.#server?.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}/api/v3`;
  }

  async start(port = 0): Promise<this> {
    this.#server = createServer((request, response) => {
      void this.#answer(request.method ?? "GET", decodeURIComponent(request.url ?? "/"), request, response);
    });
    await new Promise<void>((resolve) => this.#server?.listen(port, "127.0.0.1", resolve));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server?.closeAllConnections();
      this.#server?.close(() => resolve());
    });
  }

  /** GitHub's web root (app registration, OAuth), as GHE serves it beside /api/v3. */
  get webUrl(): string {
    const address = this.#server?.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  /** Adds a person who can sign in, and signs them in to the fake GitHub in the browser. */
  addUser(user: FakeUser): FakeUser {
    this.users.set(user.login, user);
    return user;
  }

  /** GitHub stops accepting every token it gave `login` (the user revoked the authorization). */
  revokeUserTokens(login: string): void {
    for (const token of this.#userTokens.values()) if (token.login === login) token.revoked = true;
    for (const token of this.#refreshTokens.values()) if (token.login === login) token.revoked = true;
  }

  /** Every token GitHub gave `login` runs out (401); their refresh tokens still work. */
  expireUserTokens(login: string): void {
    for (const token of this.#userTokens.values()) if (token.login === login) token.revoked = true;
  }

  /** Calls whose path matches, e.g. `callsTo(/contents/)`. */
  callsTo(pattern: RegExp): RecordedCall[] {
    return this.calls.filter((call) => pattern.test(call.path));
  }

  /** Calls that change something on GitHub (POST, PATCH, PUT, DELETE), installation tokens aside. */
  writes(): RecordedCall[] {
    return this.calls.filter((call) => WRITE_METHODS.has(call.method) && !/\/access_tokens$/.test(call.path));
  }

  /** Calls that only read (GET, HEAD). */
  reads(): RecordedCall[] {
    return this.calls.filter((call) => !WRITE_METHODS.has(call.method));
  }

  /** The calls that write to or read from a repository's deployments, statuses, comments and labels. */
  repositoryCalls(): string[] {
    return this.calls
      .filter((call) => /\/(deployments|statuses|comments|labels|collaborators)\b/.test(call.path))
      .map((call) => `${call.method} ${call.path.replace(/^\/api\/v3\/repos\/[^/]+\/[^/]+/, "")}`);
  }

  /** Answers `status` to the next `times` requests of `method` whose path matches. */
  fail(method: string, path: RegExp, status: number, times = 1): void {
    this.#failures.push({ method, path, status, times });
  }

  /** The installation's requests left this hour. */
  rateLimitRemaining(installationId: number): number {
    return this.#budget(installationId).remaining;
  }

  /** Spends the installation's budget: its requests answer 403 until `resetInSeconds` have passed. */
  exhaustRateLimit(installationId: number, resetInSeconds: number): void {
    this.#budgets.set(installationId, { remaining: 0, resetAt: Date.now() + resetInSeconds * 1000 });
  }

  /** The next `times` write requests answer GitHub's secondary-limit 403 with `retry-after`. */
  secondaryLimit(times: number, retryAfterSeconds: number): void {
    this.#secondary = { times, retryAfterSeconds };
  }

  #budget(installationId: number): Budget {
    let budget = this.#budgets.get(installationId);
    if (!budget || budget.resetAt <= Date.now()) {
      budget = { remaining: this.#rateLimit, resetAt: Date.now() + 3600_000 };
      this.#budgets.set(installationId, budget);
    }
    return budget;
  }

  #delay(): Promise<void> {
    const ms = this.#latencyMs * (1 + this.#jitter * (2 * Math.random() - 1));
    return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
  }

  async #answer(method: string, url: string, request: IncomingMessage, response: ServerResponse) {
    const [path = url, query = ""] = url.split("?");
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString();
    const form = /application\/x-www-form-urlencoded/.test(request.headers["content-type"] ?? "");
    const body = !text ? undefined : form ? Object.fromEntries(new URLSearchParams(text)) : JSON.parse(text);
    // Installation tokens name their installation (`ghs_inst_<id>`); the App's JWT names none.
    const token = /ghs_inst_(\d+)/.exec(request.headers.authorization ?? "");
    const installationId = token ? Number(token[1]) : null;
    const call: RecordedCall = { method, path, query, body, at: Date.now(), installationId, status: 0 };
    this.calls.push(call);
    await this.#delay();
    const answer = await this.#route(method, path, new URLSearchParams(query), body, request, installationId);
    call.at = Date.now();
    call.status = answer.status;
    const headers: Record<string, string> = { ...answer.headers };
    if (installationId !== null) {
      const budget = this.#budget(installationId);
      // A 304 costs no rate limit: https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
      if (answer.status !== 304 && budget.remaining > 0) budget.remaining--;
      Object.assign(headers, {
        "x-ratelimit-limit": String(this.#rateLimit),
        "x-ratelimit-remaining": String(budget.remaining),
        "x-ratelimit-used": String(this.#rateLimit - budget.remaining),
        "x-ratelimit-reset": String(Math.ceil(budget.resetAt / 1000)),
        "x-ratelimit-resource": "core",
      });
    }
    if (answer.html !== undefined) {
      response.writeHead(answer.status, { "content-type": "text/html; charset=utf-8", ...headers });
      return response.end(answer.html);
    }
    if (answer.raw !== undefined) {
      response.writeHead(answer.status, {
        "content-type": "application/vnd.github.raw; charset=utf-8",
        ...headers,
      });
      return response.end(answer.raw);
    }
    if (answer.json === undefined) {
      response.writeHead(answer.status, headers);
      return response.end();
    }
    response.writeHead(answer.status, { "content-type": "application/json; charset=utf-8", ...headers });
    response.end(JSON.stringify(answer.json));
  }

  async #route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: any,
    request: IncomingMessage,
    installationId: number | null,
  ): Promise<Answer> {
    // Limits as GitHub answers them: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
    if (installationId !== null && this.#budget(installationId).remaining === 0) {
      return {
        status: 403,
        json: {
          message: `API rate limit exceeded for installation ID ${installationId}.`,
          documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        },
      };
    }
    if (WRITE_METHODS.has(method) && !/\/access_tokens$/.test(path) && this.#secondary.times > 0) {
      this.#secondary.times--;
      return {
        status: 403,
        headers: { "retry-after": String(this.#secondary.retryAfterSeconds) },
        json: {
          message:
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
          documentation_url:
            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        },
      };
    }
    const failure = this.#failures.find((f) => f.times > 0 && f.method === method && f.path.test(path));
    if (failure) {
      failure.times--;
      return { status: failure.status, json: { message: "fake GitHub failure" } };
    }
    const web = this.#web(method, path, query, body, request);
    if (web) return web;
    const hook = await this.#hookDeliveries(method, path, query);
    if (hook) return hook;
    const listed = this.#listings(method, path, query);
    if (listed) return listed;
    const actions = this.#actions(method, path, body, request);
    if (actions) return actions;
    const repository = /^\/api\/v3\/repos\/[^/]+\/[^/]+(\/.*)$/.exec(path)?.[1] ?? "";
    const answer = this.#repository(method, repository, query, body);
    if (answer) return { status: answer[0], json: answer[1] };
    const token = /^\/api\/v3\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
    if (method === "POST" && token) {
      const expires = new Date(Date.now() + 3600_000).toISOString();
      return { status: 201, json: { token: `ghs_inst_${token[1]}`, expires_at: expires } };
    }
    const contents = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/.exec(path);
    if (method === "GET" && contents) {
      await this.holdContents;
      if (this.failContents > 0) {
        this.failContents--;
        return { status: 500, json: { message: "Server Error" } };
      }
      const [, owner, repo, file = ""] = contents;
      return this.#contents(`${owner}/${repo}`, file, request);
    }
    return { status: 404, json: { message: `fake GitHub has no ${method} ${path}` } };
  }

  /**
   * GitHub's web side and the user-facing API: registering an app from a manifest
   * (https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest),
   * OAuth (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app),
   * `GET /user`, `GET /user/installations` and `GET /user/installations/{id}/repositories`.
   */
  #web(
    method: string,
    path: string,
    query: URLSearchParams,
    body: any,
    request: IncomingMessage,
  ): Answer | undefined {
    const manifestForm = /^\/(?:organizations\/([^/]+)\/)?settings\/apps\/new$/.exec(path);
    if (manifestForm && method === "POST") {
      // GitHub asks the person to confirm, then redirects; the fake confirms at once.
      const manifest = JSON.parse(body?.manifest ?? "null");
      if (!manifest?.redirect_url || !manifest?.hook_attributes?.url) {
        return { status: 422, html: "<p>The manifest needs redirect_url and hook_attributes.url.</p>" };
      }
      const n = this.#nextId++;
      const slug = `${String(manifest.name ?? "app")
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")}-${n}`;
      const app: FakeRegisteredApp = {
        manifest,
        owner: manifestForm[1] ?? "user",
        code: `code-${n}-${Math.random().toString(36).slice(2)}`,
        converted: false,
        id: n,
        slug,
        clientId: `Iv1.client${n}`,
        clientSecret: `client-secret-${n}-${Math.random().toString(36).slice(2)}`,
        webhookSecret: `webhook-secret-${n}-${Math.random().toString(36).slice(2)}`,
      };
      this.registeredApps.push(app);
      const to = new URL(manifest.redirect_url);
      to.searchParams.set("code", app.code);
      const state = query.get("state");
      if (state) to.searchParams.set("state", state);
      return { status: 302, headers: { location: to.toString() } };
    }
    const conversion = /^\/api\/v3\/app-manifests\/([^/]+)\/conversions$/.exec(path);
    if (conversion && method === "POST") {
      const app = this.registeredApps.find((a) => a.code === conversion[1] && !a.converted);
      if (!app) return { status: 404, json: { message: "Not Found" } };
      app.converted = true;
      this.oauthClient = { clientId: app.clientId, clientSecret: app.clientSecret };
      return {
        status: 201,
        json: {
          id: app.id,
          slug: app.slug,
          node_id: `A_${app.id}`,
          name: app.manifest.name,
          owner: { login: app.owner === "user" ? "octocat" : app.owner },
          html_url: `${this.webUrl}/apps/${app.slug}`,
          client_id: app.clientId,
          client_secret: app.clientSecret,
          webhook_secret: app.webhookSecret,
          pem: this.privateKey,
          permissions: app.manifest.default_permissions,
          events: app.manifest.default_events,
        },
      };
    }
    if (method === "GET" && path === "/login/oauth/authorize") {
      const clientId = query.get("client_id") ?? "";
      const redirectUri = query.get("redirect_uri") ?? "";
      if (!this.oauthClient || clientId !== this.oauthClient.clientId) {
        return { status: 404, html: "<p>No application with this client id.</p>" };
      }
      const login = this.signedInAs;
      if (!login || !this.users.has(login))
        return { status: 403, html: "<p>Nobody is signed in to the fake GitHub.</p>" };
      const code = `oauth-${this.#nextId++}`;
      this.#oauthCodes.set(code, { login, clientId, redirectUri });
      const to = new URL(redirectUri);
      to.searchParams.set("code", code);
      to.searchParams.set("state", query.get("state") ?? "");
      return { status: 302, headers: { location: to.toString() } };
    }
    if (method === "POST" && path === "/login/oauth/access_token") {
      const clientOk =
        this.oauthClient &&
        body?.client_id === this.oauthClient.clientId &&
        body?.client_secret === this.oauthClient.clientSecret;
      let login: string | undefined;
      if (body?.grant_type === "refresh_token") {
        // https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens
        const held = this.#refreshTokens.get(body.refresh_token ?? "");
        if (!clientOk || !held || held.used || held.revoked) {
          return {
            status: 200,
            json: {
              error: "bad_refresh_token",
              error_description: "The refresh token passed is incorrect or expired.",
            },
          };
        }
        held.used = true;
        login = held.login;
      } else {
        const grant = this.#oauthCodes.get(body?.code ?? "");
        this.#oauthCodes.delete(body?.code ?? "");
        if (!grant || !clientOk || (body.redirect_uri && body.redirect_uri !== grant.redirectUri)) {
          return {
            status: 200,
            json: {
              error: "bad_verification_code",
              error_description: "The code passed is incorrect or expired.",
            },
          };
        }
        login = grant.login;
      }
      const token = `ghu_${login}_${this.#nextId++}`;
      this.#userTokens.set(token, { login, revoked: false });
      if (!this.userTokensExpire)
        return { status: 200, json: { access_token: token, token_type: "bearer", scope: "" } };
      const refreshToken = `ghr_${login}_${this.#nextId++}`;
      this.#refreshTokens.set(refreshToken, { login, used: false, revoked: false });
      return {
        status: 200,
        json: {
          access_token: token,
          expires_in: 28800,
          refresh_token: refreshToken,
          refresh_token_expires_in: 15897600,
          token_type: "bearer",
          scope: "",
        },
      };
    }
    if (!path.startsWith("/api/v3/user")) return undefined;
    const given = /^(?:token|bearer)\s+(ghu_\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
    const held = given ? this.#userTokens.get(given) : undefined;
    const user = held && !held.revoked ? this.users.get(held.login) : undefined;
    if (!user) return { status: 401, json: { message: "Bad credentials" } };
    if (method === "GET" && path === "/api/v3/user")
      return { status: 200, json: { login: user.login, id: user.id } };
    if (method === "GET" && path === "/api/v3/user/installations") {
      const installations = user.installations.map((i) => ({ id: i.id, account: { login: i.account } }));
      return { status: 200, json: { total_count: installations.length, installations } };
    }
    const repositories = /^\/api\/v3\/user\/installations\/(\d+)\/repositories$/.exec(path);
    if (method === "GET" && repositories) {
      const installation = user.installations.find((i) => i.id === Number(repositories[1]));
      if (!installation) return { status: 404, json: { message: "Not Found" } };
      const list = installation.repositories.map((r, n) => ({
        id: installation.id * 1000 + n,
        name: r.full_name.split("/")[1],
        full_name: r.full_name,
        owner: { login: r.full_name.split("/")[0] },
        permissions: r.permissions,
      }));
      return { status: 200, json: { total_count: list.length, repositories: list } };
    }
    return undefined;
  }

  /** Records a delivery of the App's webhook, with GitHub's fields (newer ones get higher ids). */
  addHookDelivery(
    delivery: Partial<FakeHookDelivery> & Pick<FakeHookDelivery, "guid" | "event" | "status_code">,
  ): FakeHookDelivery {
    const ok = delivery.status_code >= 200 && delivery.status_code < 300;
    const made: FakeHookDelivery = {
      id: this.#nextId++,
      delivered_at: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      redelivery: false,
      duration: 0.05,
      status: ok
        ? "OK"
        : delivery.status_code === 0
          ? "failed to connect to host"
          : `Invalid HTTP Response: ${delivery.status_code}`,
      action: null,
      installation_id: 1,
      repository_id: 1296269,
      ...delivery,
    };
    this.hookDeliveries.push(made);
    return made;
  }

  /**
   * The App's webhook deliveries, newest first, paged by `cursor` with a Link header, and their
   * redelivery: https://docs.github.com/en/rest/apps/webhooks (App JWT only).
   */
  async #hookDeliveries(method: string, path: string, query: URLSearchParams): Promise<Answer | undefined> {
    if (method === "GET" && path === "/api/v3/app/hook/deliveries") {
      const perPage = Math.min(Number(query.get("per_page") ?? 30), 100);
      const after = Number(query.get("cursor")?.replace(/^v1_/, "") ?? Number.POSITIVE_INFINITY);
      const newestFirst = [...this.hookDeliveries].sort((a, b) => b.id - a.id).filter((d) => d.id < after);
      const page = newestFirst.slice(0, perPage);
      const last = page.at(-1);
      const headers: Record<string, string> =
        last && newestFirst.length > perPage
          ? {
              link: `<${this.baseUrl}/app/hook/deliveries?per_page=${perPage}&cursor=v1_${last.id}>; rel="next"`,
            }
          : {};
      return { status: 200, headers, json: page.map(({ payload: _, ...listed }) => listed) };
    }
    const attempts = /^\/api\/v3\/app\/hook\/deliveries\/(\d+)\/attempts$/.exec(path);
    if (method === "POST" && attempts) {
      const original = this.hookDeliveries.find((d) => d.id === Number(attempts[1]));
      if (!original) return { status: 404, json: { message: "Not Found" } };
      const status = (await this.redeliverTo?.(original)) ?? 0;
      // A redelivery is a new delivery of the same event: same guid, a new id.
      const { guid, event, action, installation_id, repository_id, payload } = original;
      this.addHookDelivery({
        guid,
        event,
        action,
        installation_id,
        repository_id,
        payload,
        redelivery: true,
        status_code: status,
      });
      return { status: 202, json: {} };
    }
    return undefined;
  }

  /** A file as the contents API serves it: https://docs.github.com/en/rest/repos/contents#get-repository-content */
  #contents(repository: string, file: string, request: IncomingMessage): Answer {
    const text = file === ".github/envhooks.yml" ? this.configFiles.get(repository) : undefined;
    if (text === undefined) return { status: 404, json: { message: "Not Found" } };
    const sha = blobSha(text);
    const etag = `W/"${sha}"`;
    const asked = request.headers["if-none-match"]?.replace(/^W\//, "");
    if (asked === `"${sha}"`) return { status: 304, headers: { etag } };
    if (/application\/vnd\.github(\.v3)?\.raw/.test(request.headers.accept ?? "")) {
      return { status: 200, raw: text, headers: { etag } };
    }
    const size = Buffer.byteLength(text);
    const small = size <= CONTENTS_LIMIT;
    return {
      status: 200,
      headers: { etag },
      json: {
        type: "file",
        encoding: small ? "base64" : "none",
        size,
        name: file.split("/").at(-1),
        path: file,
        sha,
        content: small ? Buffer.from(text).toString("base64") : "",
        url: `${this.baseUrl}/repos/${repository}/contents/${file}`,
      },
    };
  }

  /**
   * Actions: `workflow_dispatch` (200 with the run's id when asked for, 204 otherwise), cancelling a
   * run (202; 409 once completed), and reading one, conditionally (ETag, 304).
   * https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
   */
  #actions(method: string, path: string, body: any, request: IncomingMessage): Answer | undefined {
    const target = /^\/api\/v3\/repos\/([^/]+\/[^/]+)\/dispatches$/.exec(path);
    if (method === "POST" && target) {
      // GitHub's limits: https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event
      const keys = Object.keys(body?.client_payload ?? {});
      if (typeof body?.event_type !== "string" || body.event_type.length > 100 || keys.length > 10) {
        return {
          status: 422,
          json: { message: "Invalid request: event_type or client_payload is too big." },
        };
      }
      if (JSON.stringify(body.client_payload ?? {}).length >= 64 * 1024) {
        return { status: 422, json: { message: "client_payload is too large." } };
      }
      this.repositoryDispatches.push({ repository: target[1] ?? "", ...body });
      return { status: 204 };
    }
    const match = /^\/api\/v3\/repos\/([^/]+\/[^/]+)\/actions\/(.+)$/.exec(path);
    if (!match) return undefined;
    const [, repository = "", rest = ""] = match;
    const dispatch = /^workflows\/([^/]+)\/dispatches$/.exec(rest);
    if (method === "POST" && dispatch) {
      if (body?.return_run_details !== undefined && !this.returnRunDetails) {
        return {
          status: 400,
          json: { message: "Invalid request: return_run_details is not a permitted key." },
        };
      }
      const id = this.#nextId++;
      const run: FakeWorkflowRun = {
        id,
        repository,
        workflow: dispatch[1] ?? "",
        ref: body.ref,
        inputs: body.inputs ?? {},
        status: "queued",
        conclusion: null,
        html_url: `${this.webUrl}/${repository}/actions/runs/${id}`,
        cancelRequested: false,
      };
      this.workflowRuns.push(run);
      if (this.loseDispatchAnswers > 0) {
        this.loseDispatchAnswers--;
        return { status: 502, json: { message: "Server Error" } };
      }
      if (!body.return_run_details) return { status: 204 };
      return {
        status: 200,
        json: {
          workflow_run_id: id,
          run_url: `${this.baseUrl}/repos/${repository}/actions/runs/${id}`,
          html_url: run.html_url,
        },
      };
    }
    // A workflow's runs, newest first, named as the example's run-name names them.
    const listed = /^workflows\/([^/]+)\/runs$/.exec(rest);
    if (method === "GET" && listed) {
      const query = new URL(request.url ?? "", "http://fake").searchParams;
      const runs = this.workflowRuns
        .filter((r) => r.repository === repository && r.workflow === listed[1])
        .filter((r) => !query.get("branch") || r.ref === query.get("branch"))
        .reverse();
      return {
        status: 200,
        json: {
          total_count: runs.length,
          workflow_runs: runs.map((r) => ({
            id: r.id,
            event: "workflow_dispatch",
            head_branch: r.ref,
            path: `.github/workflows/${r.workflow}`,
            display_title: `${r.inputs.action} ${r.inputs.environment} (envhooks ${r.inputs.envhooks_activity})`,
            status: r.status,
            conclusion: r.conclusion,
            html_url: r.html_url,
          })),
        },
      };
    }
    const runMatch = /^runs\/(\d+)(\/cancel)?$/.exec(rest);
    const run = runMatch && this.workflowRuns.find((r) => r.id === Number(runMatch[1]));
    if (!runMatch) return undefined;
    if (!run) return { status: 404, json: { message: "Not Found" } };
    if (method === "POST" && runMatch[2]) {
      if (run.status === "completed")
        return { status: 409, json: { message: "Cannot cancel a workflow run that is completed." } };
      run.cancelRequested = true;
      return { status: 202, json: {} };
    }
    if (method === "GET" && !runMatch[2]) {
      const json = {
        id: run.id,
        status: run.status,
        conclusion: run.conclusion,
        html_url: run.html_url,
        event: "workflow_dispatch",
      };
      const etag = `"${createHash("sha1").update(JSON.stringify(json)).digest("hex")}"`;
      if (request.headers["if-none-match"] === etag) return { status: 304, headers: { etag } };
      return { status: 200, json, headers: { etag } };
    }
    return undefined;
  }

  /** Deployments, statuses, comments, labels, permissions and compare, answered as GitHub does. */
  #repository(
    method: string,
    path: string,
    query: URLSearchParams,
    body: any,
  ): [number, unknown] | undefined {
    const route = (verb: string, pattern: RegExp) => (method === verb ? pattern.exec(path) : null);
    if (method === "POST" && path === "/deployments") {
      const deployment: FakeDeployment = {
        id: this.#nextId++,
        ref: body.ref,
        environment: body.environment,
        transient_environment: body.transient_environment,
        production_environment: body.production_environment,
        statuses: [],
      };
      this.deployments.push(deployment);
      return [201, { id: deployment.id, ref: deployment.ref, environment: deployment.environment }];
    }
    if (method === "GET" && path === "/deployments") {
      const environment = query.get("environment");
      return [200, this.deployments.filter((d) => !environment || d.environment === environment)];
    }
    const deploymentStatus = route("POST", /^\/deployments\/(\d+)\/statuses$/);
    if (deploymentStatus) {
      const match = deploymentStatus;
      const deployment = this.deployments.find((d) => d.id === Number(match?.[1]));
      if (!deployment) return [404, { message: "Not Found" }];
      deployment.statuses.push(body);
      return [201, { id: this.#nextId++, ...body }];
    }
    const commitStatus = route("POST", /^\/statuses\/([0-9a-f]+)$/);
    if (commitStatus) {
      const match = commitStatus;
      const sha = match[1] ?? "";
      this.commitStatuses.set(sha, [...(this.commitStatuses.get(sha) ?? []), body]);
      return [201, { id: this.#nextId++, ...body }];
    }
    const checks = route("GET", /^\/commits\/([0-9a-f]+)\/(check-suites|check-runs|status)$/);
    if (checks) {
      const sha = checks[1] ?? "";
      if (checks[2] === "check-suites") {
        const suites = this.checkSuites.get(sha) ?? [];
        return [
          200,
          { total_count: suites.length, check_suites: suites.map((s) => ({ ...s, head_sha: sha })) },
        ];
      }
      if (checks[2] === "check-runs") {
        const runs = this.checkRuns.get(sha) ?? [];
        return [200, { total_count: runs.length, check_runs: runs.map((r) => ({ ...r, head_sha: sha })) }];
      }
      // The combined status: the newest status of each context.
      const newest = new Map<string, { state: string; context: string; target_url?: string }>();
      for (const status of this.commitStatuses.get(sha) ?? []) newest.set(status.context, status);
      const statuses = [...newest.values()];
      return [
        200,
        { sha, state: statuses.length === 0 ? "pending" : "success", total_count: statuses.length, statuses },
      ];
    }
    const rules = route("GET", /^\/rules\/branches\/(.+)$/);
    if (rules) {
      const contexts = this.rulesetChecks.get(rules[1] ?? "");
      const rule = {
        type: "required_status_checks",
        parameters: { required_status_checks: (contexts ?? []).map((context) => ({ context })) },
      };
      return [200, contexts ? [{ type: "deletion" }, rule] : [{ type: "deletion" }]];
    }
    const branch = route("GET", /^\/branches\/([^/]+)$/);
    if (branch) {
      const contexts = this.protectedBranches.get(branch[1] ?? "");
      return [
        200,
        {
          name: branch[1],
          commit: { sha: "0".repeat(40) },
          protected: contexts !== undefined,
          protection: contexts
            ? {
                enabled: true,
                required_status_checks: {
                  enforcement_level: "non_admins",
                  contexts,
                  checks: contexts.map((context) => ({ context, app_id: null })),
                },
              }
            : {
                enabled: false,
                required_status_checks: { enforcement_level: "off", contexts: [], checks: [] },
              },
        },
      ];
    }
    const compare = route("GET", /^\/compare\/(.+)$/);
    if (compare) {
      const files = this.compareFiles.get(compare[1] ?? "");
      const commits = this.compares.get(compare[1] ?? "") ?? (files ? [] : undefined);
      if (!commits) return [404, { message: "Not Found" }];
      const behind = this.compareBehindBy.get(compare[1] ?? "") ?? 0;
      return [
        200,
        {
          status: behind > 0 ? "diverged" : "ahead",
          ahead_by: commits.length,
          behind_by: behind,
          total_commits: commits.length,
          commits,
          files: (files ?? []).slice(0, 300).map((filename) => ({ filename, status: "modified" })),
        },
      ];
    }
    const match = /^\/issues\/(\d+)\/comments$/.exec(path);
    if (match) {
      const number = Number(match[1]);
      const comments = this.comments.get(number) ?? [];
      if (method === "GET") return [200, comments];
      if (method === "POST") {
        const comment = { id: this.#nextId++, body: body.body };
        this.comments.set(number, [...comments, comment]);
        return [201, comment];
      }
    }
    const patchComment = route("PATCH", /^\/issues\/comments\/(\d+)$/);
    if (patchComment) {
      const match = patchComment;
      const comment = [...this.comments.values()].flat().find((c) => c.id === Number(match?.[1]));
      if (!comment) return [404, { message: "Not Found" }];
      comment.body = body.body;
      return [200, comment];
    }
    const deleteLabel = route("DELETE", /^\/issues\/(\d+)\/labels\/(.+)$/);
    if (deleteLabel) {
      const match = deleteLabel;
      const number = Number(match[1]);
      const labels = this.labels.get(number) ?? [];
      if (!labels.includes(match[2] ?? "")) return [404, { message: "Label does not exist" }];
      this.labels.set(
        number,
        labels.filter((label) => label !== match?.[2]),
      );
      return [200, []];
    }
    const collaborator = route("GET", /^\/collaborators\/([^/]+)\/permission$/);
    if (collaborator) {
      const permission = this.permissions.get(collaborator[1] ?? "") ?? "none";
      return [200, { permission, role_name: permission, user: { login: collaborator[1] } }];
    }
    return undefined;
  }

  /**
   * A repository, its branches and its open pull requests, 100 a page at most (`per_page`, `page`),
   * with GitHub's Link header: https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
   */
  #listings(method: string, path: string, query: URLSearchParams): Answer | undefined {
    const match = /^\/api\/v3\/repos\/([^/]+\/[^/]+)(\/branches(?:\/(.+))?|\/pulls)?$/.exec(path);
    const repository = match && method === "GET" ? this.repositories.get(match[1] ?? "") : undefined;
    if (!match || !repository) return undefined;
    const [, name = "", listing, branch] = match;
    const fullName = repository.full_name ?? name;
    if (!listing) {
      const [owner = "", repo = ""] = fullName.split("/");
      return {
        status: 200,
        json: {
          id: repository.id,
          name: repo,
          full_name: fullName,
          owner: { login: owner },
          default_branch: repository.default_branch,
        },
      };
    }
    const asBranch = (b: { name: string; sha: string }) => ({
      name: b.name,
      commit: { sha: b.sha },
      protected: false,
    });
    if (branch !== undefined) {
      const found = repository.branches.find((b) => b.name === branch);
      return found
        ? { status: 200, json: asBranch(found) }
        : { status: 404, json: { message: "Branch not found" } };
    }
    const items =
      listing === "/pulls"
        ? query.get("state") === "closed"
          ? []
          : repository.pulls
        : repository.branches.map(asBranch);
    const perPage = Math.min(Number(query.get("per_page") ?? 30), 100);
    const page = Number(query.get("page") ?? 1);
    const pages = Math.max(1, Math.ceil(items.length / perPage));
    const link = (n: number, rel: string) => {
      const next = new URLSearchParams(query);
      next.set("page", String(n));
      return `<${this.baseUrl}/repos/${name}${listing}?${next}>; rel="${rel}"`;
    };
    const headers: Record<string, string> =
      page < pages ? { link: `${link(page + 1, "next")}, ${link(pages, "last")}` } : {};
    return { status: 200, headers, json: items.slice((page - 1) * perPage, page * perPage) };
  }
}
