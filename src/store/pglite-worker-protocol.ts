// The messages between openPglite (main thread) and pglite-worker.ts (the thread that runs PGlite).
// Values travel by structured clone, which keeps what PGlite's parsers return (Date, bigint,
// Uint8Array, parsed jsonb). Errors do not keep their own fields that way, so they travel as data.
import type { MessagePort } from "node:worker_threads";

/** What the worker opens: given as workerData. */
export interface WorkerInit {
  /** The PGlite folder (`pgdata/`); none for an in-memory database. */
  dataDir?: string;
  /** A dump from `dumpDataDir()` to start from. */
  loadDataDir?: ArrayBuffer;
  postgresqlconf: string[];
  /** PGlite's WebAssembly memory to begin with, in bytes (PGlite's default when unset). */
  initialMemory?: number;
  /** Where the answers to a transaction's own requests go (see startPgliteWorker). */
  answers: MessagePort;
  /** Counted up after each answer on `answers` (a SharedArrayBuffer). */
  signal: Int32Array;
}

/** What a request asks the worker to do. */
export type Operation =
  | { op: "query"; text: string; values?: unknown[] }
  | { op: "exec"; text: string }
  | { op: "begin" }
  | { op: "commit" }
  | { op: "rollback" }
  | { op: "listen"; channel: string }
  | { op: "unlisten"; channel: string }
  | { op: "dump"; compression: "none" | "gzip" | "auto" }
  | { op: "close" };

/** Which queue a request joins (see pglite-worker.ts). */
export interface Lane {
  /**
   * An open transaction: the id of the `begin` that opened it. Its statements run inside it, and
   * nothing else runs until its `commit` or `rollback`.
   */
  tx?: number;
  /** Served before other waiting requests, between transactions. */
  urgent?: boolean;
}

export type Request = Operation & Lane & { id: number };

/** What the worker posts: a reply to one request, a notification, or the outcome of opening. */
export type WorkerMessage =
  | { id: number; value?: unknown; error?: WireError }
  | { notification: { channel: string; payload: string } }
  | { ready: true }
  | { failed: WireError };

/** An error as data: PostgreSQL's fields (code, detail, …) and the standard class it was. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
}

// What PGlite's DatabaseError carries besides its message (PostgreSQL's error fields).
const FIELDS = [
  "code",
  "severity",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

export function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const field of FIELDS) {
    const value = (error as unknown as Record<string, unknown>)[field];
    if (value !== undefined && typeof value !== "function") fields[field] = value;
  }
  return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}), fields };
}

const STANDARD: Record<string, ErrorConstructor> = {
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
};

/**
 * The error again, in the class it had where it can be (TypeError and SyntaxError are judged by
 * their class), with PostgreSQL's `code` and the other fields on it, and the worker's stack.
 */
export function fromWireError(wire: WireError): Error {
  const error = new (STANDARD[wire.name] ?? Error)(wire.message);
  if (!STANDARD[wire.name] && wire.name !== "Error") error.name = wire.name;
  Object.assign(error, wire.fields);
  if (wire.stack) error.stack = wire.stack;
  return error;
}
