import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { globMatches } from "../../src/relay/match-integration.ts";

describe("globMatches", () => {
  it.each([
    ["*", "", true],
    ["*", "anything/at/all", true],
    ["", "", true],
    ["", "a", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXXbYYc", true],
    ["a*b*c", "aXXbYY", false],
    ["a**b", "ab", true],
    ["*x", "xxxxy", false],
    ["*x", "yyyyx", true],
    ["x*", "xyz", true],
    ["?", "", false],
    ["??", "ab", true],
    ["*?", "", false],
    ["*?", "a", true],
    ["a*?c", "abc", true],
    ["a*?c", "ac", false],
    ["pr-*-?", "pr-12-x", true],
    ["feature/*/done", "feature/a/b/done", true],
    ["a.b", "aXb", false],
    ["(a)", "(a)", true],
    ["[ab]", "a", false],
    ["[ab]", "[ab]", true],
    ["*ab*ab*", "xxabyyab", true],
    ["*ab*ab*", "xxabyya", false],
    ["*aab", "aaab", true],
  ])("%j against %j: %s", (pattern, value, expected) => {
    expect(globMatches(pattern, value)).toBe(expected);
  });

  it("agrees with the regular expression it replaces on short patterns", () => {
    const asRegExp = (pattern: string) =>
      new RegExp(`^${pattern.replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "s");
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom("a", "b", "*", "?"), maxLength: 8 }),
        fc.string({ unit: fc.constantFrom("a", "b", "/"), maxLength: 10 }),
        (pattern, value) => globMatches(pattern, value) === asRegExp(pattern).test(value),
      ),
      { numRuns: 2000 },
    );
  });

  it("decides a 30-star pattern against a 200-character name well under a second", () => {
    const pattern = `${"*a".repeat(15)}${"*".repeat(15)}x`;
    const name = "a".repeat(200);
    const started = performance.now();
    expect(globMatches(pattern, name)).toBe(false);
    expect(globMatches("*".repeat(30), name)).toBe(true);
    expect(globMatches(`${"*".repeat(30)}x`, name)).toBe(false);
    expect(globMatches(`${"a*".repeat(30)}x`, `${name}x`)).toBe(true);
    expect(performance.now() - started).toBeLessThan(200);
  });
});
