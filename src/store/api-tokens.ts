import type { Queryable } from "./database.ts";

export interface ApiToken {
  id: string;
  name: string;
  projectKey: string;
  access: "read" | "write";
  createdAt: Date;
}

const COLUMNS = `id, name, project_key AS "projectKey", access, created_at AS "createdAt"`;

export async function insertApiToken(
  db: Queryable,
  token: Omit<ApiToken, "createdAt"> & { tokenHash: string },
): Promise<ApiToken> {
  const { rows } = await db.query<ApiToken>(
    `INSERT INTO api_tokens (id, name, project_key, access, token_hash) VALUES ($1, $2, $3, $4, $5)
     RETURNING ${COLUMNS}`,
    [token.id, token.name, token.projectKey, token.access, token.tokenHash],
  );
  return rows[0] as ApiToken;
}

/** The live token with this hash. */
export async function findApiToken(db: Queryable, tokenHash: string): Promise<ApiToken | undefined> {
  const { rows } = await db.query<ApiToken>(
    `SELECT ${COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL`,
    [tokenHash],
  );
  return rows[0];
}

/** A token's name by its id (revoked ones too: an activity may name a token revoked since). */
export async function apiTokenName(db: Queryable, id: string): Promise<string | undefined> {
  const { rows } = await db.query<{ name: string }>("SELECT name FROM api_tokens WHERE id = $1", [id]);
  return rows[0]?.name;
}

/** Live tokens, oldest first. */
export async function listApiTokens(db: Queryable): Promise<ApiToken[]> {
  const { rows } = await db.query<ApiToken>(
    `SELECT ${COLUMNS} FROM api_tokens WHERE revoked_at IS NULL ORDER BY created_at, id`,
  );
  return rows;
}

/** Revokes a live token; false when there is none with this id. */
export async function revokeApiToken(db: Queryable, id: string): Promise<boolean> {
  const { rows } = await db.query(
    "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id",
    [id],
  );
  return rows.length === 1;
}
