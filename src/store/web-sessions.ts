import type { Queryable } from "./database.ts";

/** Who opened a browser session, as stored. */
export type WebSessionKind = "operator" | "project" | "user";

export interface WebSession {
  id: string;
  csrf: string;
  kind: WebSessionKind;
  /** The SHA-256 of the operator token it was opened with: a changed ENVHOOKS_API_TOKEN ends it. */
  operatorTokenHash: string | null;
  /** The project token it was opened with: revoking the token ends it. */
  tokenId: string | null;
  login: string | null;
  githubUserId: number | null;
  /** The user's GitHub token, sealed with the secret box; null when it is not kept. */
  userToken: string | null;
  /** The refresh token GitHub gave with an expiring user token, sealed; null without one. */
  refreshToken: string | null;
  /** When the user's token expires (null: it does not). */
  tokenExpiresAt: Date | null;
  /** Project key → access, for a GitHub user. */
  /** Per repository key: `read`, `write` or `admin` (GitHub's permission, as envhooks uses it). */
  projects: Record<string, "read" | "write" | "admin">;
  /** When GitHub was last asked what the user may access. */
  checkedAt: Date | null;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

const COLUMNS = `id, csrf, kind, operator_token_hash AS "operatorTokenHash", token_id AS "tokenId", login,
  github_user_id::float8 AS "githubUserId", user_token AS "userToken", refresh_token AS "refreshToken",
  token_expires_at AS "tokenExpiresAt", projects, checked_at AS "checkedAt",
  created_at AS "createdAt", last_seen_at AS "lastSeenAt", expires_at AS "expiresAt"`;

export async function insertWebSession(
  db: Queryable,
  session: WebSession & { tokenHash: string },
): Promise<void> {
  await db.query(
    `INSERT INTO web_sessions (id, token_hash, csrf, kind, operator_token_hash, token_id, login, github_user_id,
       user_token, projects, checked_at, created_at, last_seen_at, expires_at, refresh_token, token_expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
    [
      session.id,
      session.tokenHash,
      session.csrf,
      session.kind,
      session.operatorTokenHash,
      session.tokenId,
      session.login,
      session.githubUserId,
      session.userToken,
      JSON.stringify(session.projects),
      session.checkedAt,
      session.createdAt,
      session.lastSeenAt,
      session.expiresAt,
      session.refreshToken,
      session.tokenExpiresAt,
    ],
  );
}

/** The session whose cookie token has this hash, if it has not expired at `now`. */
export async function findWebSession(
  db: Queryable,
  tokenHash: string,
  now: Date,
): Promise<WebSession | undefined> {
  const { rows } = await db.query<WebSession>(
    `SELECT ${COLUMNS} FROM web_sessions WHERE token_hash = $1 AND expires_at > $2`,
    [tokenHash, now],
  );
  const row = rows[0];
  if (!row) return undefined;
  // pg returns jsonb parsed; PGlite too. A text value (older drivers) is parsed here.
  if (typeof row.projects === "string") row.projects = JSON.parse(row.projects);
  return row;
}

/** Marks the session as used: its idle expiry moves on (never past `expiresAt`'s ceiling, computed by the caller). */
export async function touchWebSession(
  db: Queryable,
  id: string,
  lastSeenAt: Date,
  expiresAt: Date,
): Promise<void> {
  await db.query("UPDATE web_sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1", [
    id,
    lastSeenAt,
    expiresAt,
  ]);
}

/** Stores what GitHub answered about a user's repositories. */
export async function recheckedWebSession(
  db: Queryable,
  id: string,
  projects: Record<string, "read" | "write" | "admin">,
  checkedAt: Date,
): Promise<void> {
  await db.query("UPDATE web_sessions SET projects = $2, checked_at = $3 WHERE id = $1", [
    id,
    JSON.stringify(projects),
    checkedAt,
  ]);
}

export async function deleteWebSession(db: Queryable, id: string): Promise<void> {
  await db.query("DELETE FROM web_sessions WHERE id = $1", [id]);
}

/** Ends every session a project token opened. */
export async function deleteWebSessionsOfToken(db: Queryable, tokenId: string): Promise<number> {
  const { rows } = await db.query("DELETE FROM web_sessions WHERE token_id = $1 RETURNING id", [tokenId]);
  return rows.length;
}

/** Keeps a user's new tokens (sealed by the caller) after a refresh. */
export async function refreshedWebSession(
  db: Queryable,
  id: string,
  tokens: { userToken: string | null; refreshToken: string | null; tokenExpiresAt: Date | null },
): Promise<void> {
  await db.query(
    "UPDATE web_sessions SET user_token = $2, refresh_token = $3, token_expires_at = $4 WHERE id = $1",
    [id, tokens.userToken, tokens.refreshToken, tokens.tokenExpiresAt],
  );
}

/** Removes sessions that expired before `now`. */
export async function pruneWebSessions(db: Queryable, now: Date): Promise<number> {
  const { rows } = await db.query("DELETE FROM web_sessions WHERE expires_at <= $1 RETURNING id", [now]);
  return rows.length;
}

/** A value generated once and shared by every instance: the stored one, or `value` stored now. */
export async function keepWebSetting(db: Queryable, name: string, value: string): Promise<string> {
  await db.query("INSERT INTO web_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", [
    name,
    value,
  ]);
  const { rows } = await db.query<{ value: string }>("SELECT value FROM web_settings WHERE name = $1", [
    name,
  ]);
  return (rows[0] as { value: string }).value;
}

export async function replaceWebSetting(db: Queryable, name: string, value: string): Promise<void> {
  await db.query(
    "INSERT INTO web_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2",
    [name, value],
  );
}

/** A project token that is still live, by id (a session it opened lasts as long as it does). */
export async function liveProjectToken(
  db: Queryable,
  id: string,
): Promise<{ id: string; projectKey: string; access: "read" | "write" } | undefined> {
  const { rows } = await db.query<{ id: string; projectKey: string; access: "read" | "write" }>(
    `SELECT id, project_key AS "projectKey", access FROM api_tokens WHERE id = $1 AND revoked_at IS NULL`,
    [id],
  );
  return rows[0];
}
