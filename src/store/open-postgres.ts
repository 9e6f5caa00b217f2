import { createHash } from "node:crypto";
import pg from "pg";
import type { Database, Queryable } from "./database.ts";

// bigint (int8) columns come back as numbers: envhooks' ids and counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/** Opens a pool on PostgreSQL (`DATABASE_URL`). */
export async function openPostgres(connectionString: string): Promise<Database & { pool: pg.Pool }> {
  const pool = new pg.Pool({
    connectionString,
    max: 32,
    application_name: "envhooks",
    // While the server is down, a request waits this long for a connection, then fails (503).
    connectionTimeoutMillis: 5_000,
    // No JIT: envhooks' statements are short, and a plan the planner overestimates (a sweep's
    // correlated subqueries) took half a second to compile for a few milliseconds of work. Set on
    // each new connection, before its first use, rather than as a startup option, which poolers
    // such as PgBouncer refuse. A server that does not know the setting is used as it is.
    onConnect: async (client: pg.ClientBase) => {
      await client.query("SET jit = off").catch(ignore);
    },
  });
  // A pool error (server restart, network) surfaces on the next query; don't crash the process.
  pool.on("error", ignore);
  // Fail at start, with the server's own message, when the URL is wrong.
  const client = await pool.connect();
  client.release();
  const count = { statements: 0 };
  const pooled = wrap(pool, count);
  return {
    kind: "postgres",
    pool,
    ...pooled,
    urgent: pooled,
    statements: () => count.statements,
    async transaction(work) {
      count.statements += 2;
      const connection = await pool.connect();
      // A connection that dies between two statements (the server restarted) emits an error with
      // nobody listening, which would end the process; the next statement fails instead.
      connection.on("error", ignore);
      const tx = wrap(connection, count, { oneAtATime: true });
      try {
        await connection.query("BEGIN");
        const result = await work(tx);
        await connection.query("COMMIT");
        return result;
      } catch (error) {
        // After the statements given before the failure was known (they fail too, the
        // transaction being aborted).
        await tx.idle();
        await connection.query("ROLLBACK").catch(() => {});
        throw error;
      } finally {
        connection.off("error", ignore);
        connection.release();
      }
    },
    close: () => pool.end(),
  };
}

function ignore() {}

/**
 * Every statement is prepared once per connection under a name of its own and executed by name
 * afterwards: PostgreSQL parses and plans it once, not at each of the thousands of runs a second.
 */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `envhooks_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * With `oneAtATime` (a transaction's connection), statements given together run in the order
 * given, each sent once the one before it has been answered: as `pg` would queue them itself, which
 * it deprecates (pg 9 drops it). The embedded store's worker takes such statements in one message.
 */
function wrap(
  target: pg.Pool | pg.PoolClient,
  count: { statements: number },
  { oneAtATime = false } = {},
): Queryable & { idle(): Promise<unknown> } {
  let previous: Promise<unknown> = Promise.resolve();
  const run = <T>(statement: () => Promise<T>): Promise<T> => {
    if (!oneAtATime) return statement();
    const result = previous.then(statement, statement);
    previous = result.catch(ignore);
    return result;
  };
  return {
    async query<Row>(text: string, values?: unknown[]) {
      count.statements++;
      const result = await run(() => target.query({ name: statementName(text), text, values: values ?? [] }));
      return { rows: result.rows as Row[] };
    },
    async exec(text: string) {
      count.statements++;
      await run(() => target.query(text));
    },
    /** Resolves once every statement given so far has been answered. */
    idle: () => previous,
  };
}
