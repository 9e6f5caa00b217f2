import { type LookupAddress, type LookupOptions, lookup } from "node:dns";
import { lookup as lookupAsync } from "node:dns/promises";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/** A receiver address that is not on the public internet. */
export class BlockedAddressError extends Error {
  readonly code = "ENVHOOKS_BLOCKED_ADDRESS";
  constructor(host: string, address: string) {
    super(
      `${host} resolves to ${address}, which is not a public address (loopback, private, link-local, CGNAT or ` +
        "reserved); set ENVHOOKS_ALLOW_PRIVATE_URLS=true to allow it",
    );
    this.name = "BlockedAddressError";
  }
}

/**
 * Whether an address is globally routable unicast. IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is judged
 * as the IPv4 address it carries; every special range (ipaddr.js names them) is refused.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed.range() === "unicast";
}

/** The host of a URL as a bare name or address (`[::1]` → `::1`). */
export function urlHost(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, "");
}

/**
 * A `dns.lookup` for sockets that refuses non-public answers. The check happens when the socket
 * connects, on the very addresses it connects to, so a DNS answer that changes between a check and
 * the connection (rebinding) cannot slip through.
 */
export function guardedLookup(
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, "");
    const blocked = addresses.find((entry) => !isPublicAddress(entry.address));
    if (blocked) return callback(new BlockedAddressError(hostname, blocked.address), "");
    if (options.all) return callback(null, addresses);
    const [first] = addresses;
    if (!first)
      return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "");
    callback(null, first.address, first.family);
  });
}

/**
 * Checks a receiver URL when an integration is saved: an address literal must be public, and so
 * must every address a name resolves to now. A name that does not resolve yet is accepted; the
 * connect-time check still applies at every send.
 */
export async function assertPublicUrl(url: string): Promise<void> {
  const host = urlHost(url);
  if (isIP(host)) {
    if (!isPublicAddress(host)) throw new BlockedAddressError(host, host);
    return;
  }
  let addresses: LookupAddress[];
  try {
    addresses = await lookupAsync(host, { all: true });
  } catch {
    return;
  }
  const blocked = addresses.find((entry) => !isPublicAddress(entry.address));
  if (blocked) throw new BlockedAddressError(host, blocked.address);
}
