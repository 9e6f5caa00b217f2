import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { clientAddress, trustedProxies } from "../../src/web/access/throttle-sign-in.ts";

/** The address sign-in throttling counts, for a connection from `peer` carrying `forwarded`. */
async function addressOf(
  peer: string | undefined,
  forwarded?: string,
  trusted: string[] = [],
): Promise<string> {
  const isTrusted = trustedProxies(trusted);
  const app = new Hono().get("/", (c) => c.text(clientAddress(c, isTrusted)));
  const env = peer ? { incoming: { socket: { remoteAddress: peer } } } : undefined;
  const headers: Record<string, string> = forwarded ? { "x-forwarded-for": forwarded } : {};
  return (await app.request("/", { headers }, env)).text();
}

describe("the client address sign-in throttling counts", () => {
  it.each([
    // A peer not listed in ENVHOOKS_TRUSTED_PROXIES is the client: what it says it forwards is not believed.
    ["203.0.113.9", "198.51.100.1", [], "203.0.113.9"],
    ["2001:db8::1", undefined, [], "2001:db8::/64"],
    // A loopback or private peer too (a pod calling the Service, podman's port forwarding, a colleague):
    // rotating the header escapes nothing, and naming someone else's address locks them out of nothing.
    ["127.0.0.1", "198.51.100.1, 203.0.113.5", [], "127.0.0.1"],
    ["::ffff:10.0.0.3", "203.0.113.5", [], "10.0.0.3"],
    ["fd00::7", "203.0.113.6", [], "fd00::/64"],
    ["10.1.2.3", "203.0.113.6", ["10.0.0.0/8"], "203.0.113.6"],
    // A listed proxy: the right-most entry that is not a listed proxy is the client.
    ["127.0.0.1", "198.51.100.1, 203.0.113.5", ["127.0.0.1"], "203.0.113.5"],
    ["10.0.0.3", "198.51.100.1, 203.0.113.5, 10.0.0.9", ["10.0.0.0/8"], "203.0.113.5"],
    ["::ffff:10.0.0.3", "203.0.113.5", ["10.0.0.0/8"], "203.0.113.5"],
    // Every entry a listed proxy: the left-most.
    ["10.0.0.3", "10.0.0.4", ["10.0.0.0/8"], "10.0.0.4"],
    // IPv6 clients are counted by their /64 (one host usually holds a whole /64).
    ["2001:db8:1:2::1", undefined, [], "2001:db8:1:2::/64"],
    ["2001:db8:1:2:ffff::9", undefined, [], "2001:db8:1:2::/64"],
    ["127.0.0.1", "2001:db8:1:2::1", ["127.0.0.1"], "2001:db8:1:2::/64"],
    // No connection (an in-process request): the header, else one shared "unknown".
    [undefined, "192.0.2.4", [], "192.0.2.4"],
    [undefined, undefined, [], "unknown"],
  ])("peer %s, X-Forwarded-For %s, trusted %j: %s", async (peer, forwarded, trusted, expected) => {
    expect(await addressOf(peer, forwarded, trusted)).toBe(expected);
  });

  it("refuses a trusted proxy that is no address or range", () => {
    expect(() => trustedProxies(["10.0.0.0/33"])).toThrow(/10\.0\.0\.0\/33/);
    expect(() => trustedProxies(["proxy.local"])).toThrow(/proxy\.local/);
  });
});
