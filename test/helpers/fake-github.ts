import { generateKeyPairSync } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedCall {
  method: string;
  path: string;
  query: string;
  body: any;
}

export interface FakeDeployment {
  id: number;
  ref: string;
  environment: string;
  transient_environment: boolean;
  production_environment: boolean;
  statuses: Array<{ state: string; environment_url?: string; log_url?: string; description?: string }>;
}

/**
 * A local stand-in for GitHub's REST API: installation tokens and repository contents. Only
 * GitHub is faked; every call is recorded so a test can prove the calls it expects were made.
 */
export class FakeGithub {
  readonly calls: RecordedCall[] = [];
  readonly privateKey: string;
  /** `.github/envhooks.yml` per repository (`owner/repo`), served raw. */
  readonly configFiles = new Map<string, string>();
  /** Answers 500 to this many contents requests before answering normally. */
  failContents = 0;
  /** Holds every contents request until this promise settles. */
  holdContents: Promise<void> | undefined;
  /** Deployments made through the API, with their statuses. */
  readonly deployments: FakeDeployment[] = [];
  /** Commit statuses by sha. */
  readonly commitStatuses = new Map<string, Array<{ state: string; context: string; target_url?: string }>>();
  /** Issue and pull request comments by number. */
  readonly comments = new Map<number, Array<{ id: number; body: string }>>();
  /** Labels on each pull request. */
  readonly labels = new Map<number, string[]>();
  /** Each user's permission on the repository (GitHub's `permission`: admin, write, read, none). */
  readonly permissions = new Map<string, string>();
  #failures: Array<{ method: string; path: RegExp; status: number; times: number }> = [];
  #nextId = 1000;
  #server: Server | undefined;

  constructor() {
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

  async start(): Promise<this> {
    this.#server = createServer((request, response) => {
      void this.#answer(request.method ?? "GET", decodeURIComponent(request.url ?? "/"), request, response);
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, "127.0.0.1", resolve));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server?.closeAllConnections();
      this.#server?.close(() => resolve());
    });
  }

  /** Calls whose path matches, e.g. `callsTo(/contents/)`. */
  callsTo(pattern: RegExp): RecordedCall[] {
    return this.calls.filter((call) => pattern.test(call.path));
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

  async #answer(method: string, url: string, request: IncomingMessage, response: ServerResponse) {
    const [path = url, query = ""] = url.split("?");
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString();
    const body = text ? JSON.parse(text) : undefined;
    this.calls.push({ method, path, query, body });
    const json = (status: number, payload: unknown) => {
      response.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      response.end(JSON.stringify(payload));
    };
    const failure = this.#failures.find((f) => f.times > 0 && f.method === method && f.path.test(path));
    if (failure) {
      failure.times--;
      return json(failure.status, { message: "fake GitHub failure" });
    }
    const repository = /^\/api\/v3\/repos\/[^/]+\/[^/]+(\/.*)$/.exec(path)?.[1] ?? "";
    const answer = this.#repository(method, repository, new URLSearchParams(query), body);
    if (answer) return json(answer[0], answer[1]);
    const token = /^\/api\/v3\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
    if (method === "POST" && token) {
      return json(201, { token: "ghs_fake", expires_at: new Date(Date.now() + 3600_000).toISOString() });
    }
    const contents = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/.exec(path);
    if (method === "GET" && contents) {
      await this.holdContents;
      if (this.failContents > 0) {
        this.failContents--;
        return json(500, { message: "Server Error" });
      }
      const [, owner, repo, file] = contents;
      const text = file === ".github/envhooks.yml" ? this.configFiles.get(`${owner}/${repo}`) : undefined;
      if (text === undefined) return json(404, { message: "Not Found" });
      response.writeHead(200, { "content-type": "application/vnd.github.raw; charset=utf-8" });
      return response.end(text);
    }
    json(404, { message: `fake GitHub has no ${method} ${path}` });
  }

  /** Deployments, statuses, comments, labels and permissions, answered as GitHub does. */
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
}
