import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/** `enc:v1:<key id>:<iv>:<tag>:<data>`, each part base64url: the key id tells keys apart during a rotation. */
const PREFIX = "enc:v1:";
const SEALED = /^enc:v1:([0-9a-f]{8}):([\w-]+):([\w-]+):([\w-]*)$/;

/** A stored secret that the keys at hand cannot open: start-up stops on it, naming what to set. */
export class SecretKeyError extends Error {}

/**
 * Encrypts secrets for storage (AES-256-GCM) and decrypts them. The first key encrypts; every key
 * decrypts, so a key can be rotated: list the new one first and the old one after it until every
 * stored secret is encrypted again (start-up does it). Without keys, values are stored as given.
 */
export interface SecretBox {
  /** Whether values are encrypted: at least one key is set. */
  readonly encrypts: boolean;
  /** The ids of the keys held, the encrypting one first. */
  readonly keyIds: string[];
  seal(plain: string): string;
  /** The plain value; a value stored before encryption (not prefixed) is returned as it is. */
  open(stored: string): string;
  /** Whether a stored value should be encrypted again: plain, or encrypted with a key other than the first. */
  isStale(stored: string): boolean;
}

/** A key's id: the start of its SHA-256, so that ciphertexts name their key without revealing it. */
export function keyId(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

/** A new random key, as ENVHOOKS_SECRET_KEY takes it (base64 of 32 bytes). */
export function newSecretKey(): string {
  return randomBytes(32).toString("base64");
}

/**
 * Parses one key: base64 (44 characters) or hex (64) of 32 random bytes. Throws a message saying
 * how to generate one.
 */
export function parseSecretKey(text: string): Buffer {
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, "hex") : Buffer.from(text, "base64");
  if (key.length !== 32 || (!/^[0-9a-f]{64}$/i.test(text) && key.toString("base64") !== text)) {
    throw new Error(
      "must be 32 random bytes in base64 (44 characters) or hex (64): generate one with `openssl rand -base64 32`",
    );
  }
  return key;
}

export function createSecretBox(keys: Buffer[]): SecretBox {
  const byId = new Map(keys.map((key) => [keyId(key), key]));
  const [current] = keys;
  const currentId = current && keyId(current);
  const held = () => (byId.size > 0 ? `it holds ${[...byId.keys()].join(", ")}` : "it is not set");
  return {
    encrypts: current !== undefined,
    keyIds: [...byId.keys()],
    seal(plain) {
      if (!current) return plain;
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", current, iv);
      const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
      const parts = [iv, cipher.getAuthTag(), data].map((part) => part.toString("base64url"));
      return `${PREFIX}${currentId}:${parts.join(":")}`;
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      const [, id = "", iv = "", tag = "", data = ""] = SEALED.exec(stored) ?? [];
      const key = byId.get(id);
      if (!key) {
        throw new SecretKeyError(
          `A stored secret is encrypted with key ${id || "(unreadable)"}, which ENVHOOKS_SECRET_KEY does not hold (${held()}): set ENVHOOKS_SECRET_KEY to list that key (see docs/security.md, "Secrets").`,
        );
      }
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
        decipher.setAuthTag(Buffer.from(tag, "base64url"));
        return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString(
          "utf8",
        );
      } catch {
        throw new SecretKeyError(
          `A stored secret encrypted with key ${id} does not decrypt: it was altered. Set it again through the API.`,
        );
      }
    },
    isStale(stored) {
      if (!current) return false;
      return !stored.startsWith(`${PREFIX}${currentId}:`);
    },
  };
}
