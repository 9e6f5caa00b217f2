import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { clientAddress } from "../../src/web/access/throttle-sign-in.ts";

/** The address sign-in throttling counts, for a connection from `peer` carrying `forwarded`. */
async function addressOf(peer: string | undefined, forwarded?: string): Promise<string> {
  const app = new Hono().get("/", (c) => c.text(clientAddress(c)));
  const env = peer ? { incoming: { socket: { remoteAddress: peer } } } : undefined;
  const headers: Record<string, string> = forwarded ? { "x-forwarded-for": forwarded } : {};
  return (await app.request("/", { headers }, env)).text();
}

describe("the client address sign-in throttling counts", () => {
  it.each([
    // A public peer is the client: what it says it forwards is not believed.
    ["203.0.113.9", "198.51.100.1", "203.0.113.9"],
    ["2001:db8::1", undefined, "2001:db8::1"],
    // A proxy on this machine or a private network: the entry it added (the last) is the client.
    ["127.0.0.1", "198.51.100.1, 203.0.113.5", "203.0.113.5"],
    ["::ffff:10.0.0.3", "203.0.113.5", "203.0.113.5"],
    ["fd00::7", "203.0.113.6", "203.0.113.6"],
    ["10.1.2.3", undefined, "10.1.2.3"],
    // No connection (app.request): the header, else one shared "unknown".
    [undefined, "192.0.2.4", "192.0.2.4"],
    [undefined, undefined, "unknown"],
  ])("peer %s, X-Forwarded-For %s: %s", async (peer, forwarded, expected) => {
    expect(await addressOf(peer, forwarded)).toBe(expected);
  });
});
