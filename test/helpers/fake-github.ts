import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedCall {
  method: string;
  path: string;
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
      void this.#answer(request.method ?? "GET", decodeURIComponent(request.url ?? "/"), response);
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

  async #answer(method: string, url: string, response: import("node:http").ServerResponse) {
    const path = url.split("?")[0] ?? url;
    this.calls.push({ method, path });
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      response.end(JSON.stringify(body));
    };
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
}
