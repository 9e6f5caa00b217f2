// Run in a worker thread by openPglite: PGlite's statements are synchronous WebAssembly, and here
// they keep this thread busy instead of the event loop that answers GitHub. Requests are served one
// at a time: urgent ones mostly before the others (see take); an open transaction's own statements
// only, until it ends.
import { parentPort, workerData } from "node:worker_threads";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { type Request, toWireError, type WorkerInit, type WorkerMessage } from "./pglite-worker-protocol.ts";

if (!parentPort) throw new Error("pglite-worker.ts runs in a worker thread that openPglite starts");
const port = parentPort;
const init = workerData as WorkerInit;

function post(message: WorkerMessage) {
  port.postMessage(message);
}

/**
 * Answers a request; a dump's bytes are moved, not copied. A transaction's own requests are
 * answered on `init.answers`, with `init.signal` counted up: openPglite waits for those without
 * giving up its turn of the event loop (see startPgliteWorker).
 */
function reply(id: number, outcome: { value?: unknown; error?: unknown }, inTransaction = false) {
  const message: WorkerMessage =
    "error" in outcome ? { id, error: toWireError(outcome.error) } : { id, value: outcome.value };
  if (inTransaction) {
    held.push(message);
    return;
  }
  try {
    port.postMessage(message, outcome.value instanceof ArrayBuffer ? [outcome.value] : []);
  } catch (error) {
    // A value structured clone cannot copy: the request fails, the worker goes on.
    port.postMessage({ id, error: toWireError(error) } satisfies WorkerMessage);
  }
}

/** A transaction's answers not yet posted: those to statements that came together go together. */
let held: WorkerMessage[] = [];

/** Posts the held answers to a transaction's statements in one message, and wakes openPglite. */
function answerHeld() {
  if (held.length === 0) return;
  const messages = held;
  held = [];
  try {
    init.answers.postMessage(messages.length === 1 ? messages[0] : messages);
  } catch {
    // A value structured clone cannot copy: that request fails, the others are answered.
    for (const message of messages) {
      try {
        init.answers.postMessage(message);
      } catch (error) {
        init.answers.postMessage({ id: (message as { id: number }).id, error: toWireError(error) });
      }
    }
  }
  Atomics.add(init.signal, 0, 1);
  Atomics.notify(init.signal, 0);
}

/** The transaction whose statements are served now, and theirs that wait. */
interface OpenTransaction {
  id: number;
  waiting: Request[];
  /** Set while the transaction waits for its next request. */
  wake?: () => void;
}

const urgent: Request[] = [];
const waiting: Request[] = [];
let open: OpenTransaction | undefined;
/**
 * Transactions begun but not open yet (their `begin` waits its turn), by id: statements sent with
 * the `begin`, or before it was answered, wait here until it opens.
 */
const announced = new Map<number, Request[]>();
let serving = false;
const listeners = new Map<string, () => Promise<void>>();
/** Thrown inside PGlite's transaction() to roll it back. */
const ROLLBACK = Symbol("rollback");

let pglite: PGlite;
try {
  pglite = new PGlite({
    ...(init.dataDir ? { dataDir: init.dataDir } : {}),
    ...(init.loadDataDir ? { loadDataDir: new Blob([init.loadDataDir]) } : {}),
    postgresqlconf: init.postgresqlconf,
    ...(init.initialMemory ? { initialMemory: init.initialMemory } : {}),
  });
  await pglite.waitReady;
} catch (error) {
  post({ failed: toWireError(error) });
  process.exit(1);
}

port.on("message", receive);
post({ ready: true });

/** One message from openPglite: a request, or the requests made together in one turn there. */
function receive(message: Request | Request[]) {
  for (const request of Array.isArray(message) ? message : [message]) {
    if (request.tx === undefined) {
      if (request.op === "begin") announced.set(request.id, []);
      (request.urgent ? urgent : waiting).push(request);
    } else if (open?.id === request.tx) {
      open.waiting.push(request);
    } else if (announced.has(request.tx)) {
      announced.get(request.tx)?.push(request);
    } else {
      reply(request.id, { error: new Error(`transaction ${request.tx} is not open`) }, true);
    }
  }
  answerHeld();
  if (open?.waiting.length) open.wake?.();
  if (!serving) void serve();
}

/**
 * Urgent operations served in a row while others wait. Urgent ones go first so that storing a
 * delivery is answered at once, but not always first: during a long burst of deliveries the work
 * they bring (applying them, sending their deliveries) would otherwise wait for the burst to end.
 */
const URGENT_IN_A_ROW = 4;
let urgentInARow = 0;

/** The next operation: urgent ones first, but one waiting operation after URGENT_IN_A_ROW urgent ones. */
function take(): Request | undefined {
  if (urgent.length > 0 && (urgentInARow < URGENT_IN_A_ROW || waiting.length === 0)) {
    urgentInARow++;
    return urgent.shift();
  }
  urgentInARow = 0;
  return waiting.shift();
}

async function serve() {
  serving = true;
  for (let next = take(); next; next = take()) {
    await run(next);
    // A turn of this thread's event loop between two operations: requests posted meanwhile are
    // read, so an urgent one goes before what was already waiting.
    await new Promise((resolve) => setImmediate(resolve));
  }
  serving = false;
}

async function run(request: Request) {
  if (request.op === "begin") return runTransaction(request.id);
  if (request.op === "close") {
    return endThread(
      request.id,
      await pglite.close().then(
        () => ({}),
        (error: unknown) => ({ error }),
      ),
    );
  }
  try {
    reply(request.id, { value: await runOne(pglite, request) });
  } catch (error) {
    reply(request.id, { error });
    // A failed multi-statement block (pg-boss sends BEGIN … COMMIT in one exec) leaves the one
    // connection inside an aborted transaction, which would fail every later statement.
    if (pglite.isInTransaction()) await pglite.exec("ROLLBACK").catch(() => {});
  }
}

async function runOne(target: PGlite | Transaction, request: Request): Promise<unknown> {
  switch (request.op) {
    case "query":
      return { rows: (await target.query(request.text, request.values)).rows };
    case "exec":
      return (await target.exec(request.text)).map((result) => ({ rows: result.rows }));
    case "listen": {
      if (!listeners.has(request.channel)) {
        const channel = request.channel;
        const stop = await pglite.listen(channel, (payload) => post({ notification: { channel, payload } }));
        listeners.set(channel, stop);
      }
      return undefined;
    }
    case "unlisten":
      await listeners.get(request.channel)?.();
      listeners.delete(request.channel);
      return undefined;
    case "dump": {
      const dump = await pglite.dumpDataDir(request.compression);
      return await dump.arrayBuffer();
    }
    default:
      throw new Error(`${request.op} is not a statement`);
  }
}

/**
 * Answers the close and lets the thread end by itself: with nothing listening any more, its event
 * loop empties and the thread exits (code 0). Requests sent after the close stay unanswered; the
 * thread's exit fails them (see startPgliteWorker).
 */
function endThread(id: number, outcome: { error?: unknown }) {
  port.off("message", receive);
  reply(id, outcome);
  init.answers.close();
}

/**
 * Holds PGlite's transaction open (its one connection, so nothing interleaves) and serves the
 * statements sent with this transaction's id until its commit or rollback, which is answered once
 * PGlite has committed or rolled back.
 */
async function runTransaction(id: number) {
  // Statements that came before it opened wait on, where receive() puts them until `open` is set.
  const transaction: OpenTransaction = { id, waiting: announced.get(id) ?? [] };
  let end: Request | undefined;
  let began = false;
  let failure: unknown;
  try {
    await pglite.transaction(async (tx) => {
      open = transaction;
      announced.delete(id);
      began = true;
      // Answered with the statements that came with it, in one message.
      reply(id, { value: id }, true);
      for (;;) {
        const next = await nextOf(transaction);
        if (next.op === "commit" || next.op === "rollback") {
          end = next;
          if (next.op === "rollback") throw ROLLBACK;
          return;
        }
        try {
          reply(next.id, { value: await runOne(tx, next) }, true);
        } catch (error) {
          reply(next.id, { error }, true);
        }
      }
    });
    if (end) reply(end.id, {}, true);
  } catch (error) {
    if (end) reply(end.id, error === ROLLBACK ? {} : { error }, true);
    else if (!began) reply(id, { error }, true);
    failure = error;
  } finally {
    open = undefined;
    announced.delete(id);
    // What came after its end, or for a transaction that could not begin: the reason it failed.
    const error = began ? new Error(`transaction ${id} has ended`) : failure;
    for (const request of transaction.waiting) reply(request.id, { error }, true);
    answerHeld();
  }
}

function nextOf(transaction: OpenTransaction): Promise<Request> {
  const next = transaction.waiting.shift();
  if (next) return Promise.resolve(next);
  // Nothing more came with the statements just run: their answers go now, together.
  answerHeld();
  return new Promise((resolve) => {
    transaction.wake = () => {
      transaction.wake = undefined;
      const request = transaction.waiting.shift();
      if (request) resolve(request);
    };
  });
}
