/** What a query returns: its rows, typed by the caller. */
export interface QueryResult<Row> {
  rows: Row[];
}

/** Runs one parameterised statement. Both adapters and every transaction handle implement it. */
export interface Queryable {
  query<Row = Record<string, unknown>>(text: string, values?: unknown[]): Promise<QueryResult<Row>>;
  /** Runs several statements with no parameters (migrations). */
  exec(text: string): Promise<void>;
}

/**
 * The one narrow interface every SQL statement in envhooks goes through, with a PGlite adapter
 * (embedded) and a `pg` adapter (PostgreSQL) behind it. Same SQL on both.
 */
export interface Database extends Queryable {
  readonly kind: "pglite" | "postgres";
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * For statements that must not wait behind queued work: storing a GitHub delivery before it is
   * answered (GitHub gives up after 10 s, and the work it brings is what queues). The embedded
   * database runs one operation at a time and runs these first; on PostgreSQL it is the same pool.
   */
  readonly urgent: Queryable;
  close(): Promise<void>;
  /**
   * Statements run so far through this database, urgent ones and those of transactions included
   * (a transaction's BEGIN and its COMMIT or ROLLBACK count one each): what figures such as
   * statements per delivery divide. Absent on a wrapper that does not count.
   */
  readonly statements?: () => number;
}

/**
 * A CTE that lets the statement's own transaction commit without waiting for the disk
 * (`synchronous_commit` off until its commit): `WITH relaxed AS (${RELAXED_COMMIT}) … FROM relaxed`.
 * For bookkeeping whose loss in a database crash only repeats or delays work — a delivery's
 * attempt, sent again with the same webhook-id; a lease, void or held until it runs out. Never for
 * what was acknowledged to GitHub or what must be relayed. The embedded database has no such wait.
 */
export const RELAXED_COMMIT = "SELECT set_config('synchronous_commit', 'off', true)";
