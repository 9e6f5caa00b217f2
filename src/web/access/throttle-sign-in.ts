import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import ipaddr from "ipaddr.js";

/** Failed token sign-ins one client address may make within SIGN_IN_WINDOW_MS. */
export const FAILURES_PER_ADDRESS = 10;
/** Failed token sign-ins with one token prefix, from any address, within SIGN_IN_WINDOW_MS. */
export const FAILURES_PER_PREFIX = 5;
/** The sliding window failures are counted over. */
export const SIGN_IN_WINDOW_MS = 5 * 60_000;
/** A token's prefix: its first characters (`ehk_` and 8 more for a project token). */
const PREFIX_LENGTH = 12;
/** Addresses and prefixes remembered at most; past it, the oldest are forgotten first. */
const MAX_KEYS = 10_000;

/** Failure times per key over a sliding window: who must wait, and how long. */
class FailureWindow {
  readonly #failures = new Map<string, number[]>();
  readonly #limit: number;
  readonly #windowMs: number;

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Milliseconds until `key` may try again (0: now). */
  waitMs(key: string, at: number): number {
    const recent = this.#recent(key, at);
    if (recent.length < this.#limit) return 0;
    return (recent[recent.length - this.#limit] ?? at) + this.#windowMs - at;
  }

  /** Counts a failure; true when it is the one that reaches the limit. */
  add(key: string, at: number): boolean {
    const recent = this.#recent(key, at);
    recent.push(at);
    // Re-inserted, so the Map's order is least recently failed first.
    this.#failures.delete(key);
    this.#failures.set(key, recent);
    if (this.#failures.size > MAX_KEYS) this.#prune(at);
    return recent.length === this.#limit;
  }

  #recent(key: string, at: number): number[] {
    return (this.#failures.get(key) ?? []).filter((time) => at - time < this.#windowMs);
  }

  #prune(at: number) {
    for (const [key, times] of this.#failures) {
      if (times.every((time) => at - time >= this.#windowMs)) this.#failures.delete(key);
    }
    for (const key of this.#failures.keys()) {
      if (this.#failures.size <= MAX_KEYS) return;
      this.#failures.delete(key);
    }
  }
}

/** Why a sign-in must wait, and how long. */
export interface Throttled {
  seconds: number;
  by: "address" | "token prefix";
}

/**
 * Throttles token sign-in (`POST /login`): failures are counted per client address and per token
 * prefix (a token partly known, tried from many addresses), over a sliding window; past the limit,
 * sign-in waits (429 with Retry-After) whatever token is sent. Kept in this process: hono has no
 * rate limiter and the dependencies' (bottleneck, in @octokit/plugin-throttling) queue outgoing
 * calls rather than refuse incoming ones. With several instances each counts its own.
 */
export class SignInThrottle {
  readonly #byAddress = new FailureWindow(FAILURES_PER_ADDRESS, SIGN_IN_WINDOW_MS);
  readonly #byPrefix = new FailureWindow(FAILURES_PER_PREFIX, SIGN_IN_WINDOW_MS);

  /** How long this address or token prefix must wait; undefined when it may try now. */
  wait(address: string, token: string, at: number): Throttled | undefined {
    const addressMs = this.#byAddress.waitMs(address, at);
    const prefixMs = this.#byPrefix.waitMs(prefixKey(token), at);
    if (addressMs <= 0 && prefixMs <= 0) return undefined;
    const by = addressMs >= prefixMs ? "address" : "token prefix";
    return { seconds: Math.max(1, Math.ceil(Math.max(addressMs, prefixMs) / 1000)), by };
  }

  /** Counts a failed sign-in; returns what now waits, if this failure reached a limit. */
  failed(address: string, token: string, at: number): Throttled | undefined {
    const byAddress = this.#byAddress.add(address, at);
    const byPrefix = this.#byPrefix.add(prefixKey(token), at);
    return byAddress || byPrefix ? this.wait(address, token, at) : undefined;
  }
}

/** A token's prefix as kept in memory: hashed, so no part of a token stays readable. */
const prefixKey = (token: string) =>
  createHash("sha256").update(token.slice(0, PREFIX_LENGTH)).digest("base64url");

/** Whether an address is one of the reverse proxies whose `X-Forwarded-For` entries are believed. */
export type IsTrustedProxy = (address: ipaddr.IPv4 | ipaddr.IPv6) => boolean;

/**
 * ENVHOOKS_TRUSTED_PROXIES as a test: each entry an address or a CIDR range (`10.0.0.0/8`,
 * `fd00::/8`). Throws naming an entry that is neither.
 */
export function trustedProxies(entries: readonly string[]): IsTrustedProxy {
  const ranges = entries.map((entry): [ipaddr.IPv4 | ipaddr.IPv6, number] => {
    try {
      if (entry.includes("/")) return ipaddr.parseCIDR(entry);
      const address = ipaddr.process(entry);
      return [address, address.kind() === "ipv4" ? 32 : 128];
    } catch {
      throw new Error(`${entry} is neither an IP address nor a CIDR range (such as 10.0.0.0/8)`);
    }
  });
  return (address) =>
    ranges.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}

/** An address as IPv4 when it is one mapped into IPv6; undefined when it is no address. */
const parseAddress = (text: string | undefined) =>
  text && ipaddr.isValid(text.trim()) ? ipaddr.process(text.trim()) : undefined;

/** The key failures are counted under: the address, or an IPv6 address's /64 (a host usually has a whole /64). */
function addressKey(address: ipaddr.IPv4 | ipaddr.IPv6): string {
  if (address.kind() === "ipv4") return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice(0, 4).concat([0, 0, 0, 0]);
  return `${new ipaddr.IPv6(parts).toString()}/64`;
}

/**
 * The client's address: the connection's peer, unless that peer is a reverse proxy listed in
 * ENVHOOKS_TRUSTED_PROXIES. Then `X-Forwarded-For` is read from the right, past every listed proxy,
 * and the first entry that is not one is the client (entries further left are whatever the client
 * sent). Nothing is believed from a peer not listed, loopback or private ones included: anyone on
 * the network could otherwise name any address. Express's `trust proxy` with a list does the same.
 * An IPv6 client is counted by its /64. Without a connection (an in-process request): the header.
 */
export function clientAddress(c: Context, isTrusted: IsTrustedProxy): string {
  const env = c.env as { incoming?: IncomingMessage } | undefined;
  const rawPeer = env?.incoming?.socket?.remoteAddress;
  const peer = parseAddress(rawPeer);
  if (rawPeer && !peer) return rawPeer;
  if (peer && !isTrusted(peer)) return addressKey(peer);
  const forwarded = (c.req.header("x-forwarded-for") ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  let client = peer ? addressKey(peer) : "unknown";
  for (const entry of forwarded.reverse()) {
    const address = parseAddress(entry);
    // What no listed proxy vouches for as an address is the client's own say: it ends here.
    if (!address) return client === "unknown" ? entry : client;
    client = addressKey(address);
    if (!isTrusted(address)) return client;
  }
  return client;
}
