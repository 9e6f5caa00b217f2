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
 * Whether an address is globally routable unicast. An IPv6 address that carries an IPv4 one is
 * judged as that IPv4 address: IPv4-mapped (`::ffff:127.0.0.1`), IPv4-compatible (`::127.0.0.1`,
 * which URLs write `[::7f00:1]`; RFC 4291 2.5.5.1), NAT64 (`64:ff9b::/96`, RFC 6052) and 6to4
 * (`2002::/16`, RFC 3056). Every other special range (ipaddr.js names them) is refused, NAT64's
 * local-use prefix (`64:ff9b:1::/48`, RFC 8215) and Teredo included.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.parse(address);
  const carried = parsed.kind() === "ipv6" ? carriedIPv4(parsed as ipaddr.IPv6) : undefined;
  return (carried ?? parsed).range() === "unicast";
}

/** The IPv4 address an IPv6 address carries, if it is of a form that carries one. */
function carriedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const word = (n: number) => address.parts[n] ?? 0;
  const ipv4 = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  const zero = (...ns: number[]) => ns.every((n) => word(n) === 0);
  if (address.isIPv4MappedAddress()) return address.toIPv4Address();
  // `::` and `::1` are the unspecified and loopback addresses, not IPv4-compatible ones.
  if (zero(0, 1, 2, 3, 4, 5) && (word(6) !== 0 || word(7) > 1)) return ipv4(word(6), word(7));
  if (word(0) === 0x64 && word(1) === 0xff9b && zero(2, 3, 4, 5)) return ipv4(word(6), word(7));
  if (word(0) === 0x2002) return ipv4(word(1), word(2));
  return undefined;
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
