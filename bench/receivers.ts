// The webhook receivers of `npm run bench`, in a process of their own (forked by bench/run.ts) so
// that their work is not counted against the load generator. One HTTP server; each integration
// posts to its own path. Every arrival is kept as [GitHub delivery id, path, time] with the time on
// the machine's monotonic clock (process.hrtime), which the bench process reads too.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export type Arrival = [delivery: string, path: string, atMs: number];
export type ReceiverMessage =
  | { type: "listening"; port: number }
  | { type: "count"; count: number }
  | { type: "arrivals"; arrivals: Arrival[] };
export type BenchMessage = { type: "count"; prefix: string } | { type: "take" };

let arrivals: Arrival[] = [];

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const at = Number(process.hrtime.bigint()) / 1e6;
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { github?: { delivery_id?: string } };
    arrivals.push([body.github?.delivery_id ?? "", request.url ?? "", at]);
    response.end("ok");
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, "127.0.0.1", () => {
  process.send?.({
    type: "listening",
    port: (server.address() as AddressInfo).port,
  } satisfies ReceiverMessage);
});

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
