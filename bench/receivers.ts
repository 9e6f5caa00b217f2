// The webhook receivers of `npm run bench`, in a process of their own (forked by bench/run.ts) so
// that their work is not counted against the load generator. Several HTTP servers, one port each:
// envhooks keeps a pool of connections per origin, so receivers on different ports stand for
// different services. Each integration posts to its own path, and the path says how long the
// receiver holds the request before answering: `/hold/100/...` 100 ms, `/hold/50-150/...` a
// time drawn evenly between 50 and 150 ms (as Slack's or Teams' webhooks take), anything else
// answers at once. Every attempt is kept once answered, as [GitHub delivery id, path, time it was
// read, time held, webhook-id, requests held by all receivers when it was read (itself included)],
// the times on the machine's monotonic clock (process.hrtime), which the bench process reads too.
// The last says how many deliveries envhooks had in flight: what limits a rate over slow receivers.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Arrival = [
  delivery: string,
  path: string,
  atMs: number,
  heldMs: number,
  webhookId: string,
  inFlight: number,
];
export type ReceiverMessage =
  | { type: "listening"; ports: number[] }
  | { type: "count"; count: number }
  | { type: "arrivals"; arrivals: Arrival[] };
export type BenchMessage = { type: "count"; prefix: string } | { type: "take" };

/** Receivers on ports of their own: the fan-out's 5 and the 20-environment integration's. */
const PORTS = 6;

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

let arrivals: Arrival[] = [];
/** Requests read and not yet answered, on all ports. */
let holding = 0;

/** How long a request to `path` is held: `/hold/<ms>/` or `/hold/<min>-<max>/`, else 0. */
function holdFor(path: string): number {
  const match = /^\/hold\/(\d+)(?:-(\d+))?\//.exec(path);
  if (!match) return 0;
  const min = Number(match[1]);
  const max = Number(match[2] ?? match[1]);
  return min + Math.random() * (max - min);
}

function receive(request: IncomingMessage, response: ServerResponse) {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const at = nowMs();
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { github?: { delivery_id?: string } };
    const path = request.url ?? "";
    const inFlight = ++holding;
    const keep = () => {
      holding--;
      arrivals.push([
        body.github?.delivery_id ?? "",
        path,
        at,
        nowMs() - at,
        String(request.headers["webhook-id"] ?? ""),
        inFlight,
      ]);
    };
    const hold = holdFor(path);
    if (hold === 0) {
      keep();
      response.end("ok");
      return;
    }
    // Kept as the answer leaves, with the time it was really held (a busy event loop holds it longer).
    setTimeout(() => {
      keep();
      response.end("ok");
    }, hold);
  });
}

const ports = await Promise.all(
  Array.from(
    { length: PORTS },
    () =>
      new Promise<number>((resolve) => {
        const server = createServer(receive);
        server.keepAliveTimeout = 60_000;
        server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
      }),
  ),
);
process.send?.({ type: "listening", ports } satisfies ReceiverMessage);

process.on("message", (message: BenchMessage) => {
  if (message.type === "count") {
    // Distinct deliveries (GitHub delivery id and path) of the pushes whose ids start with the prefix.
    const keys = new Set(
      arrivals.filter(([id]) => id.startsWith(message.prefix)).map(([id, path]) => `${id} ${path}`),
    );
    process.send?.({ type: "count", count: keys.size } satisfies ReceiverMessage);
  }
  if (message.type === "take") {
    process.send?.({ type: "arrivals", arrivals } satisfies ReceiverMessage);
    arrivals = [];
  }
});
process.on("disconnect", () => process.exit(0));
