import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

// Every relative link and #anchor of README.md and docs/*.md must lead somewhere: the README was split
// into docs/ pages (issue 27) and a section moved again must not leave a dead link behind. Written by
// hand rather than with markdown-link-check or github-slugger: a few lines of regular expressions over
// our own Markdown, with no new dependency (and no network: links to other sites are not checked).

const root = resolve(import.meta.dirname, "../..");

/** The Markdown outside fenced code blocks, paragraph by paragraph, with inline code spans removed. */
function prose(markdown: string): string[] {
  const kept: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      kept.push("");
    } else if (marker) {
      fence = marker;
      kept.push("");
    } else kept.push(line);
  }
  return kept
    .join("\n")
    .split(/\n\s*\n/)
    .map((paragraph) => paragraph.replace(/(`+)[\s\S]*?\1/g, ""));
}

/** GitHub's anchor for a heading (github-slugger's rule): lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors a Markdown file has: one per heading (repeats get -1, -2, …), and HTML ids. */
function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of outsideFences(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = slug(heading[1] ?? "");
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      found.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const id of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) found.add(id[1] ?? "");
  }
  return found;
}

/** The lines outside fenced code blocks, inline code kept (GitHub builds a heading's anchor from its text). */
function outsideFences(markdown: string): string[] {
  let fence: string | undefined;
  const kept: string[] = [];
  for (const line of markdown.split("\n")) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
    } else if (marker) fence = marker;
    else kept.push(line);
  }
  return kept;
}

/** Each relative link (and #anchor) of the file that leads nowhere, as "file: target (why)". */
function brokenLinks(file: string): string[] {
  const markdown = readFileSync(file, "utf8");
  const targets: string[] = [];
  for (const paragraph of prose(markdown)) {
    for (const link of paragraph.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      targets.push(link[1] ?? "");
    for (const ref of paragraph.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm))
      targets.push(ref[1] ?? "");
  }
  const broken: string[] = [];
  const name = relative(root, file);
  for (const target of targets) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: another site
    const hash = target.indexOf("#");
    const path = hash === -1 ? target : target.slice(0, hash);
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const to = path === "" ? file : resolve(dirname(file), decodeURIComponent(path));
    if (!existsSync(to)) {
      broken.push(`${name}: ${target} (no such file)`);
      continue;
    }
    if (anchor === undefined || anchor === "") continue;
    if (!to.endsWith(".md")) {
      broken.push(`${name}: ${target} (an anchor into a file that is not Markdown)`);
      continue;
    }
    if (!anchors(readFileSync(to, "utf8")).has(anchor))
      broken.push(`${name}: ${target} (no heading #${anchor})`);
  }
  return broken;
}

const docs = [
  join(root, "README.md"),
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(root, "docs", f)),
];

describe("the docs' links", () => {
  it("README.md and every docs/*.md page: each relative link and #anchor resolves", () => {
    expect(docs.length).toBeGreaterThan(10);
    expect(docs.flatMap(brokenLinks)).toEqual([]);
  });

  it("README maps every docs/ page", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const pages = docs.map((f) => relative(root, f)).filter((f) => f.startsWith("docs/"));
    const unmapped = pages.filter((f) => !readme.includes(`](${f})`));
    expect(pages.length).toBeGreaterThan(10);
    expect(unmapped).toEqual([]);
  });

  it("finds a broken link: a missing file, a missing anchor, an anchor of another page", () => {
    const dir = mkdtempSync(join(tmpdir(), "envhooks-docs-links-"));
    try {
      writeFileSync(
        join(dir, "a.md"),
        [
          "# Page A",
          "",
          "## Deploy runners: `runner: external`",
          "",
          "[ok](#deploy-runners-runner-external), [ok too](b.md#kudus-hooks-api), [fine](b.md)",
          "[gone](missing.md), [no such section](b.md#nowhere), [here](#page-b)",
          "[split over",
          "two lines](#also-missing)",
          "",
          "```md",
          "[in a code block](ignored.md)",
          "```",
          "",
          "`[inline code](ignored-too.md)` and [a site](https://example.com/#x)",
        ].join("\n"),
      );
      writeFileSync(join(dir, "b.md"), "# Page B\n\n### Kudu's hooks API\n");
      expect(brokenLinks(join(dir, "a.md")).map((b) => b.replace(/^.*?: /, ""))).toEqual([
        "missing.md (no such file)",
        "b.md#nowhere (no heading #nowhere)",
        "#page-b (no heading #page-b)",
        "#also-missing (no heading #also-missing)",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("makes GitHub's anchors", () => {
    expect(slug("Workflows that react to activities: `notify.repository_dispatch`")).toBe(
      "workflows-that-react-to-activities-notifyrepository_dispatch",
    );
    expect(slug("Repositories renamed, transferred, deleted")).toBe(
      "repositories-renamed-transferred-deleted",
    );
    expect(slug("The `envhooks` CLI")).toBe("the-envhooks-cli");
    expect([...anchors("# A\n## A\n```\n# not a heading\n```\n### A")]).toEqual(["a", "a-1", "a-2"]);
  });
});
