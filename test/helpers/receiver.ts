import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** When the request arrived (its headers), and when the whole body was in (ms since the epoch). */
  startedAt: number;
  at: number;
  /** When the answer was sent; undefined while it hangs. */
  answeredAt?: number;
}

/** What the receiver answers (after `delayMs`); `hang` never answers. */
export type Answer =
  | { status: number; headers?: Record<string, string>; body?: string; delayMs?: number }
  | "hang";

/**
 * A webhook receiver: a real HTTP server on loopback that records every request and answers
 * with `answer(n)` for the n-th request (0-based), 200 by default. It can go down and come back
 * on the same port.
 */
export class Receiver {
  readonly received: Received[] = [];
  answer: (index: number, request: Received) => Answer = () => ({ status: 200, body: "ok" });
  #server: Server | undefined;
  #port = 0;
  #hanging: ServerResponse[] = [];
  /** The address it listens on: loopback, or 0.0.0.0 for containers to reach it (test:deploy). */
  readonly host: string;

  constructor({ host = "127.0.0.1" }: { host?: string } = {}) {
    this.host = host;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hook`;
  }

  async start(): Promise<this> {
    this.#server = createServer((request, response) => {
      const startedAt = Date.now();
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const entry: Received = {
          path: request.url ?? "/",
          headers: request.headers,
          body: Buffer.concat(chunks).toString(),
          startedAt,
          at: Date.now(),
        };
        const answer = this.answer(this.received.length, entry);
        this.received.push(entry);
        if (answer === "hang") {
          this.#hanging.push(response);
          return;
        }
        setTimeout(() => {
          response.writeHead(answer.status, answer.headers ?? {});
          response.end(answer.body ?? "");
          entry.answeredAt = Date.now();
        }, answer.delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => this.#server?.listen(this.#port, this.host, resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  /** Stops listening; the port stays this receiver's for `start()` again. */
  async stop(): Promise<void> {
    for (const response of this.#hanging.splice(0)) response.destroy();
    await new Promise<void>((resolve) => {
      if (!this.#server) return resolve();
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
  }

  /** Parsed JSON bodies of what was received. */
  bodies(): any[] {
    return this.received.map((request) => JSON.parse(request.body));
  }
}
