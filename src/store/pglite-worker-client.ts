import { MessageChannel, type ResourceLimits, receiveMessageOnPort, Worker } from "node:worker_threads";
import {
  fromWireError,
  type Lane,
  type Operation,
  type Request,
  type WireError,
  type WorkerInit,
  type WorkerMessage,
} from "./pglite-worker-protocol.ts";

/** The main thread's end of pglite-worker.ts. */
export interface PgliteWorkerClient {
  /**
   * Sends one request; resolves with the worker's answer, rejects with the error it met. Requests
   * made in the same turn (before this thread's microtasks run out) travel in one message.
   */
  call<T>(operation: Operation, lane?: Lane): Promise<T>;
  /**
   * Opens a transaction without waiting for it: its statements can be sent at once with its id
   * (`tx` in their lane), in the same message as the `begin`, and the worker runs them once the
   * transaction is open. `opened` settles when it is (or could not be) opened.
   */
  begin(): { tx: number; opened: Promise<unknown> };
  /** Messages posted to the worker and received from it so far (each may carry several requests or answers). */
  messages(): { sent: number; received: number };
  /** Called with each NOTIFY on a channel the worker listens to. */
  onNotification(callback: (channel: string, payload: string) => void): void;
  /**
   * Closes the database and lets the thread end by itself; a thread still running after
   * `closeTimeoutMs` (a statement that never ends) is terminated.
   */
  close(): Promise<void>;
}

export interface PgliteWorkerOptions {
  /** Caps the thread's JavaScript heap (PGlite's WebAssembly memory is apart from it). */
  resourceLimits?: ResourceLimits;
  /** How long close() waits for the thread to end by itself before terminating it. */
  closeTimeoutMs?: number;
}

/**
 * Long enough for a busy machine to finish the statements queued before close() and PGlite's
 * shutdown checkpoint; terminating a thread is the last resort: V8 once crashed a whole process
 * (`Check failed: jit_page_->allocations_.erase(addr) == 1` in UnregisterWasmAllocation) when a
 * PGlite thread was terminated while it tore down its WebAssembly.
 */
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * How long transactions' statements are waited for, in all, without leaving the event loop's turn.
 * The work of a transaction runs here, one statement after another; were each answer to wait for
 * this thread's next turn (behind every request and timer ready by then), a transaction would hold
 * the database — and the acknowledgements behind it — many times longer than its statements take.
 * But a turn that kept waiting would hold this thread as long as the transaction (a batch of 50
 * events: ~100 ms with no request read, no timer fired): past this budget, answers are awaited like
 * any other, and the next turn has a budget of its own. A thread that dies is noticed either way.
 */
const TURN_WAIT_BUDGET_MS = 4;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** Starts the worker thread and waits until PGlite is open in it. */
export async function startPgliteWorker(
  init: Omit<WorkerInit, "answers" | "signal">,
  { resourceLimits, closeTimeoutMs = CLOSE_TIMEOUT_MS }: PgliteWorkerOptions = {},
): Promise<PgliteWorkerClient> {
  const answers = new MessageChannel();
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL("./pglite-worker.ts", import.meta.url), {
    workerData: { ...init, answers: answers.port2, signal } satisfies WorkerInit,
    transferList: [answers.port2, ...(init.loadDataDir ? [init.loadDataDir] : [])],
    ...(resourceLimits ? { resourceLimits } : {}),
  });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let notify: (channel: string, payload: string) => void = () => {};
  /** Set once the thread is gone: every call after it fails with it. */
  let stopped: Error | undefined;
  let closing = false;
  let crash: Error | undefined;
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));

  // The thread keeps the process alive only while an answer is awaited, as a socket would.
  const settle = (id: number) => {
    const waiter = pending.get(id);
    pending.delete(id);
    if (pending.size === 0 && !closing) worker.unref();
    return waiter;
  };

  let sent = 0;
  let received = 0;
  /** Begins sent whose answer has not come: their statements are not waited for in turn. */
  const beginning = new Set<number>();
  const answerOne = (message: WorkerMessage) => {
    if (!("id" in message)) return;
    beginning.delete(message.id);
    const waiter = settle(message.id);
    if (message.error) waiter?.reject(fromWireError(message.error as WireError));
    else waiter?.resolve(message.value);
  };
  /** One message from the worker: an answer, or several answers to requests that came together. */
  const answer = (message: WorkerMessage | WorkerMessage[]) => {
    received++;
    if (Array.isArray(message)) for (const one of message) answerOne(one);
    else answerOne(message);
  };
  answers.port1.on("message", answer);
  answers.port1.unref();
  const opened = new Promise<void>((resolve, reject) => {
    worker.on("message", (message: WorkerMessage | WorkerMessage[]) => {
      if (Array.isArray(message)) answer(message);
      else if ("ready" in message) resolve();
      else if ("failed" in message) reject(fromWireError(message.failed));
      else if ("notification" in message) notify(message.notification.channel, message.notification.payload);
      else answer(message);
    });
    worker.on("error", (error) => {
      crash = error;
    });
    worker.on("exit", (code) => {
      stopped = closing
        ? new Error("the embedded database is closed")
        : new Error(
            `the embedded database's worker thread stopped (exit code ${code})${crash ? `: ${crash.message}` : ""}; ` +
              "its pending statements may or may not have been applied — restart envhooks",
            { cause: crash },
          );
      reject(stopped);
      for (const id of [...pending.keys()]) settle(id)?.reject(stopped);
    });
  });
  await opened;
  worker.unref();

  /** Requests made in this turn, posted together once its microtasks have run (see flush). */
  let outbox: Request[] = [];

  function call<T>(operation: Operation, lane: Lane = {}): Promise<T> {
    if (stopped) return Promise.reject(stopped);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      if (pending.size === 1) worker.ref();
      if (outbox.length === 0) queueMicrotask(flush);
      outbox.push({ ...operation, ...lane, id });
    });
  }

  /**
   * Posts the turn's requests in one message (one structured clone, one wake of the worker), then
   * waits in turn for the answers to an open transaction's statements among them.
   */
  function flush() {
    const batch = outbox;
    outbox = [];
    if (batch.length === 0 || stopped) return;
    try {
      worker.postMessage(batch.length === 1 ? batch[0] : batch);
      sent++;
    } catch {
      // A value structured clone cannot copy (a function, a class instance with private state):
      // each request alone, so that only the one that holds it fails.
      for (const request of batch) {
        try {
          worker.postMessage(request);
          sent++;
        } catch (error) {
          settle(request.id)?.reject(
            new TypeError(`a statement's values cannot be sent to the database: ${(error as Error).message}`),
          );
        }
      }
    }
    for (const request of batch) if (request.op === "begin") beginning.add(request.id);
    // The last statement of an open transaction: the answers come in order. A transaction still
    // being opened may wait behind other work, which is not waited for in turn.
    const last = batch.findLast(
      (request) => request.tx !== undefined && !beginning.has(request.tx) && pending.has(request.id),
    );
    if (last) waitInTurn(last.id);
  }

  // When this turn of the event loop began waiting for answers; reset once the loop has turned.
  let turnStart: number | undefined;
  /** Takes the answer to `id` as soon as it comes, within this turn's TURN_WAIT_BUDGET_MS. */
  function waitInTurn(id: number) {
    if (turnStart === undefined) {
      turnStart = performance.now();
      setImmediate(() => {
        turnStart = undefined;
      });
    }
    const until = turnStart + TURN_WAIT_BUDGET_MS;
    for (;;) {
      const seen = Atomics.load(signal, 0);
      for (
        let message = receiveMessageOnPort(answers.port1);
        message;
        message = receiveMessageOnPort(answers.port1)
      ) {
        answer(message.message as WorkerMessage | WorkerMessage[]);
      }
      const left = until - performance.now();
      if (!pending.has(id) || left <= 0) return;
      Atomics.wait(signal, 0, seen, left);
    }
  }

  return {
    call,
    begin() {
      const opened = call({ op: "begin" });
      opened.catch(() => {});
      return { tx: nextId - 1, opened };
    },
    messages: () => ({ sent, received }),
    onNotification(callback) {
      notify = callback;
    },
    async close() {
      if (stopped) return;
      closing = true;
      worker.ref();
      // The thread ends by itself once it has answered (see pglite-worker.ts).
      const closed = call({ op: "close" });
      closed.catch(() => {});
      const timeout = setTimeout(() => void worker.terminate(), closeTimeoutMs);
      try {
        await exited;
      } finally {
        clearTimeout(timeout);
        answers.port1.close();
      }
      // PGlite's own failure to close, if it answered with one; not the thread's end.
      await closed.catch((error: unknown) => {
        if (error !== stopped) throw error;
      });
    },
  };
}
