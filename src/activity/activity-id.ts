import { randomBytes } from "node:crypto";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** A new activity id: 13 lower-case base32 characters, like Platform.sh's (`o6nnkdf4w7jdm`). */
export function newActivityId(): string {
  const bytes = randomBytes(13);
  let id = "";
  for (const byte of bytes) id += ALPHABET[byte % 32];
  return id;
}
