import type { Queryable } from "./database.ts";

/** A one-time message left unread this long is deleted (the redirect that shows it is immediate). */
const FLASH_LIFETIME = "1 hour";

/** Keeps a one-time message (sealed by the caller) for a session; old unread ones go at the same time. */
export async function insertWebFlash(
  db: Queryable,
  flash: { id: string; sessionId: string; body: string },
): Promise<void> {
  await db.query(
    `WITH expired AS (DELETE FROM web_flashes WHERE created_at < now() - interval '${FLASH_LIFETIME}')
     INSERT INTO web_flashes (id, session_id, body) VALUES ($1, $2, $3)`,
    [flash.id, flash.sessionId, flash.body],
  );
}

/** The message with this id of this session, deleted as it is read: a second read finds nothing. */
export async function takeWebFlash(
  db: Queryable,
  id: string,
  sessionId: string,
): Promise<string | undefined> {
  const { rows } = await db.query<{ body: string }>(
    `DELETE FROM web_flashes WHERE id = $1 AND session_id = $2
       AND created_at >= now() - interval '${FLASH_LIFETIME}'
     RETURNING body`,
    [id, sessionId],
  );
  return rows[0]?.body;
}
