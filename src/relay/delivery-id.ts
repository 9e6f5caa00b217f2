import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** A new delivery id, `msg_` and 26 base32 characters, as Standard Webhooks ids usually look. */
export function newDeliveryId(): string {
  let id = "msg_";
  for (const byte of randomBytes(26)) id += ALPHABET[byte % 32];
  return id;
}
