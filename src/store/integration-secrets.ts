import type { ChatConfig, WebhookConfig } from "../relay/integration.schema.ts";
import type { Integration } from "../relay/integration.ts";
import type { Queryable } from "./database.ts";
import type { SecretBox } from "./secret-box.ts";

// What is encrypted at rest: the signing secrets (a chat channel's URL or HipChat's token is its
// `secret`), every URL (one may hold a token in its path, query or user info) and the values of
// custom headers. Filters, format and timings stay readable: matching an activity needs them.

type Config = WebhookConfig | ChatConfig;

function mapConfig(config: Config, change: (value: string) => string): Config {
  const next: Record<string, unknown> = { ...config };
  if (typeof next.url === "string") next.url = change(next.url);
  if (next.headers && typeof next.headers === "object") {
    next.headers = Object.fromEntries(
      Object.entries(next.headers as Record<string, string>).map(([name, value]) => [name, change(value)]),
    );
  }
  return next as unknown as Config;
}

/** The config as stored: its URL and header values encrypted. */
export function sealConfig(secrets: SecretBox, config: Config): Config {
  return mapConfig(config, (value) => secrets.seal(value));
}

export function sealSecret(secrets: SecretBox, secret: string | null | undefined): string | null {
  return secret == null ? null : secrets.seal(secret);
}

/**
 * The one place a stored integration becomes a usable one: secrets, URL and header values
 * decrypted (values stored before encryption are read as they are).
 */
export function openIntegration(secrets: SecretBox, row: Integration): Integration {
  const open = (value: string | null) => (value == null ? null : secrets.open(value));
  return {
    ...row,
    config: mapConfig(row.config, (value) => secrets.open(value)),
    secret: open(row.secret),
    previousSecret: open(row.previousSecret),
  } as Integration;
}

/**
 * Encrypts again, with the first key, every integration whose secrets are plain (stored before a
 * key was set) or encrypted with an older key; run at start. Throws SecretKeyError when a secret
 * was encrypted with a key that is not held. A row changed meanwhile is left to its writer, who
 * encrypted it with the current key. Returns how many rows were encrypted again.
 */
export async function resealIntegrations(db: Queryable, secrets: SecretBox): Promise<number> {
  const { rows } = await db.query<{
    id: string;
    config: Config;
    secret: string | null;
    previous_secret: string | null;
  }>("SELECT id, config, secret, previous_secret FROM integrations ORDER BY id");
  let resealed = 0;
  for (const row of rows) {
    const stored = [row.secret, row.previous_secret, ...storedValues(row.config)].filter(
      (value): value is string => value != null,
    );
    // Opens each one: a missing or wrong key stops here, not at the first delivery.
    for (const value of stored) secrets.open(value);
    if (!stored.some((value) => secrets.isStale(value))) continue;
    const reseal = (value: string) => secrets.seal(secrets.open(value));
    const { rows: changed } = await db.query(
      `UPDATE integrations SET config = $2, secret = $3, previous_secret = $4
       WHERE id = $1 AND config = $5::jsonb AND secret IS NOT DISTINCT FROM $6 AND previous_secret IS NOT DISTINCT FROM $7
       RETURNING id`,
      [
        row.id,
        JSON.stringify(mapConfig(row.config, reseal)),
        row.secret == null ? null : reseal(row.secret),
        row.previous_secret == null ? null : reseal(row.previous_secret),
        JSON.stringify(row.config),
        row.secret,
        row.previous_secret,
      ],
    );
    resealed += changed.length;
  }
  return resealed;
}

function storedValues(config: Config): string[] {
  const values: string[] = [];
  mapConfig(config, (value) => {
    values.push(value);
    return value;
  });
  return values;
}
