// A process whose embedded database thread is stuck in a statement when it is closed: close()
// must terminate it after its timeout. Terminating a thread in the middle of WebAssembly is the
// V8 hazard close() otherwise avoids, so it happens here, in a process of its own, and not in the
// test's. Run by test/integration/pglite-worker.test.ts; prints what it saw as one JSON line.
import type { Worker } from "node:worker_threads";
import { startPgliteWorker } from "../../src/store/pglite-worker-client.ts";

const exitCode = new Promise<number>((resolve) => {
  process.once("worker", (thread: Worker) => thread.once("exit", resolve));
});
const worker = await startPgliteWorker({ postgresqlconf: [] }, { closeTimeoutMs: 1_000 });
// The thread is busy for an hour: it can neither answer the close nor end.
const stuck = worker
  .call({ op: "query", text: "SELECT pg_sleep(3600)" })
  .catch((error: Error) => error.message);
await worker.close();
const later = await worker.call({ op: "query", text: "SELECT 1" }).catch((error: Error) => error.message);
console.log(JSON.stringify({ exitCode: await exitCode, stuck: await stuck, later }));
