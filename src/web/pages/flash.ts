import { randomBytes } from "node:crypto";
import type { Context } from "hono";
import { createSecretBox } from "../../store/secret-box.ts";
import { insertWebFlash, takeWebFlash } from "../../store/web-flashes.ts";
import type { WebDeps } from "../web-routes.ts";

/** What a form's POST leaves for the page its redirect opens, to be shown there once. */
export type Flash =
  | { kind: "integration-added"; integrationId: string; type: string; secret?: string | undefined }
  | { kind: "token-created"; token: Record<string, unknown> }
  | { kind: "resync"; dryRun: boolean; result: Record<string, unknown> };

/**
 * Keeps `flash` for this browser session (sealed: it may hold a secret) and returns the query that
 * shows it (`flash=<id>`), for the redirect after a POST (POST/redirect/GET): reloading the page
 * it opens sends nothing again, and shows the message no more.
 */
export async function leaveFlash(deps: WebDeps, c: Context, flash: Flash): Promise<string> {
  const session = c.get("session");
  const id = randomBytes(16).toString("base64url");
  const secrets = deps.secrets ?? createSecretBox([]);
  await insertWebFlash(deps.db, { id, sessionId: session.id, body: secrets.seal(JSON.stringify(flash)) });
  return `flash=${id}`;
}

/**
 * The message named by `?flash=` if this session left it and nobody read it yet; reading deletes
 * it. Another session (a shared link, a second browser) gets nothing, and leaves it in place.
 */
export async function takeFlash(deps: WebDeps, c: Context): Promise<Flash | undefined> {
  const id = c.req.query("flash");
  const session = c.get("session");
  if (!id || !session || id.length > 64) return undefined;
  const sealed = await takeWebFlash(deps.db, id, session.id);
  if (sealed === undefined) return undefined;
  try {
    return JSON.parse((deps.secrets ?? createSecretBox([])).open(sealed)) as Flash;
  } catch (error) {
    // A message sealed with a key no longer held (the secret key was replaced): it is gone.
    deps.log.warn({ err: error }, "a one-time message could not be opened");
    return undefined;
  }
}
