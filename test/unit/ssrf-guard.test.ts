import { describe, expect, it } from "vitest";
import { assertPublicUrl, BlockedAddressError, isPublicAddress } from "../../src/relay/ssrf-guard.ts";

describe("IPv6 forms that carry an IPv4 address are judged by that address", () => {
  it.each([
    // IPv4-compatible (::/96, deprecated by RFC 4291) and how URLs normalise it
    ["::127.0.0.1", false],
    ["::7f00:1", false],
    ["::a00:1", false],
    ["::a9fe:a9fe", false],
    ["::808:808", true],
    // IPv4-mapped (::ffff:0:0/96)
    ["::ffff:7f00:1", false],
    ["::ffff:808:808", true],
    // NAT64 (64:ff9b::/96, RFC 6052); the local-use prefix (RFC 8215) is never public
    ["64:ff9b::7f00:1", false],
    ["64:ff9b::10.0.0.1", false],
    ["64:ff9b::8.8.8.8", true],
    ["64:ff9b:1::808:808", false],
    // 6to4 (2002::/16, RFC 3056): the IPv4 address is in bits 16–47
    ["2002:7f00:1::", false],
    ["2002:a9fe:a9fe::1", false],
    ["2002:c0a8:101::1", false],
    ["2002:808:808::1", true],
    // Teredo and the translated form stay refused
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", false],
    ["::ffff:0:7f00:1", false],
    ["::", false],
    ["::1", false],
  ])("%s is public: %s", (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });

  it.each([
    "http://[::127.0.0.1]/",
    "http://[::7f00:1]:8080/hook",
    "http://[::ffff:127.0.0.1]/",
    "http://[64:ff9b::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "http://[::169.254.169.254]/latest/meta-data",
  ])("refuses %s when an integration is saved", async (url) => {
    await expect(assertPublicUrl(url)).rejects.toBeInstanceOf(BlockedAddressError);
  });

  it("accepts a public address written in those forms", async () => {
    await expect(assertPublicUrl("http://[64:ff9b::8.8.8.8]/")).resolves.toBeUndefined();
    await expect(assertPublicUrl("http://[2606:4700:4700::1111]/")).resolves.toBeUndefined();
  });
});
