import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PATHS_SKIPPED, pathMatches, whySkipByPaths } from "../../src/lifecycle/match-paths.ts";

describe("pathMatches (gitignore-style)", () => {
  it.each([
    ["apps/web/**", "apps/web/a.ts", true],
    ["apps/web/**", "apps/web/src/deep/a.ts", true],
    ["apps/web/**", "apps/api/a.ts", false],
    ["apps/web/**", "other/apps/web/a.ts", false],
    ["**/*.md", "README.md", true],
    ["**/*.md", "docs/guide/intro.md", true],
    ["**/*.md", "docs/guide/intro.mdx", false],
    ["*.md", "docs/guide/intro.md", true],
    ["*.md", "README.md", true],
    ["docs/**", "docs/a.txt", true],
    ["docs/**", "src/docs/a.txt", false],
    ["docs", "src/docs/a.txt", true],
    ["docs/", "docs/a.txt", true],
    ["docs/", "docs", false],
    ["/docs", "src/docs/a.txt", false],
    ["/docs", "docs/a.txt", true],
    ["apps/*/src", "apps/web/src/a.ts", true],
    ["apps/*/src", "apps/web/x/src/a.ts", false],
    ["apps/*.ts", "apps/a/b.ts", false],
    ["apps/**/test/*.ts", "apps/test/a.ts", true],
    ["apps/**/test/*.ts", "apps/x/y/test/a.ts", true],
    ["apps/**/test/*.ts", "apps/x/y/test/z/a.ts", false],
    ["package.json", "packages/ui/package.json", true],
    ["/package.json", "packages/ui/package.json", false],
    ["?.ts", "a.ts", true],
    ["?.ts", "ab.ts", false],
  ])("%j against %j: %s", (pattern, path, expected) => {
    expect(pathMatches(pattern, path)).toBe(expected);
  });

  it("agrees with a plain recursive matcher on short anchored patterns", () => {
    // Exponential, but obviously right: `**` takes any number of segments, any other one exactly one.
    const segment = (glob: string) => new RegExp(`^${glob.replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")}$`);
    const matches = (pattern: string[], path: string[]): boolean => {
      const [first, ...rest] = pattern;
      if (first === undefined) return path.length === 0;
      if (first === "**") return path.some((_, k) => matches(rest, path.slice(k))) || matches(rest, []);
      return path.length > 0 && segment(first).test(path[0] ?? "") && matches(rest, path.slice(1));
    };
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "b", "*", "**", "a*", "?"), { minLength: 2, maxLength: 4 }),
        fc.array(fc.constantFrom("a", "b", "ab", "ba"), { minLength: 1, maxLength: 5 }),
        (pattern, path) =>
          // A pattern names files and the directories whose files it covers: `**` after it.
          pathMatches(pattern.join("/"), path.join("/")) === matches([...pattern, "**"], path),
      ),
      { numRuns: 2000 },
    );
  });
});

describe("whySkipByPaths", () => {
  const paths = ["apps/web/**", "packages/ui/**"];
  const ignored = ["**/*.md", "docs/**"];
  it.each([
    ["no filter", {}, { files: ["docs/a.md"] }, undefined],
    ["a file under paths", { paths }, { files: ["README.md", "apps/web/a.ts"] }, undefined],
    ["nothing under paths", { paths }, { files: ["apps/api/a.ts"] }, PATHS_SKIPPED],
    ["only ignored files", { paths_ignore: ignored }, { files: ["docs/x.txt", "a/b.md"] }, PATHS_SKIPPED],
    ["a file not ignored", { paths_ignore: ignored }, { files: ["docs/x.txt", "src/a.ts"] }, undefined],
    [
      "under paths but ignored",
      { paths, paths_ignore: ignored },
      { files: ["apps/web/README.md"] },
      PATHS_SKIPPED,
    ],
    ["unknown files", { paths }, { unknown: "the compare failed" }, undefined],
    ["files not gathered", { paths }, undefined, undefined],
    ["no file listed", { paths }, { files: [] }, undefined],
    ["301 files", { paths }, { files: Array.from({ length: 301 }, (_, n) => `apps/api/${n}.ts`) }, undefined],
    [
      "300 files, none under paths",
      { paths },
      { files: Array.from({ length: 300 }, (_, n) => `apps/api/${n}.ts`) },
      PATHS_SKIPPED,
    ],
  ] as const)("%s", (_name, options, changed, expected) => {
    expect(whySkipByPaths(options, changed)).toBe(expected);
  });
});
