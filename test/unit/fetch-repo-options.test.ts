import { describe, expect, it } from "vitest";
import { type FileAnswer, fetchRepoOptions, type ReadFile } from "../../src/github/fetch-repo-options.ts";

const PATH = ".github/envhooks.yml";

/** Files by `owner/repo:path`, answered as GitHub does (304 when the ETag matches); records each request. */
function github(files: Record<string, string>) {
  const requests: string[] = [];
  const readFile: ReadFile = async ({ owner, repo, path, etag }): Promise<FileAnswer> => {
    const name = `${owner}/${repo}:${path}`;
    requests.push(name);
    const text = files[name];
    if (text === undefined) return { status: "missing" };
    const tag = `"${text.length}:${text}"`;
    if (etag === tag) return { status: "unchanged" };
    return { status: "found", etag: tag, sha: "0".repeat(40), size: Buffer.byteLength(text), text };
  };
  return { readFile, requests };
}

describe("fetchRepoOptions", () => {
  it("falls back to the owner's .github repository only when the repository has no file", async () => {
    const { readFile, requests } = github({ "o/.github:.github/envhooks.yml": "fetch_branches: false\n" });
    const read = await fetchRepoOptions(readFile, { owner: "o", repo: "r" }, null);
    expect(read.result).toMatchObject({ ok: true, config: { fetch_branches: false } });
    expect(requests).toEqual([`o/r:${PATH}`, `o/.github:${PATH}`]);

    const empty = github({ [`o/r:${PATH}`]: "", [`o/.github:${PATH}`]: "fetch_branches: false\n" });
    const own = await fetchRepoOptions(empty.readFile, { owner: "o", repo: "r" }, null);
    expect(own.result).toMatchObject({ ok: true, config: { fetch_branches: true } });
    expect(empty.requests).toEqual([`o/r:${PATH}`]);
  });

  it("merges an _extends chain under the repository's own values, and refuses a loop", async () => {
    const { readFile } = github({
      [`o/r:${PATH}`]: "_extends: base\nfetch_branches: false\n",
      [`o/base:${PATH}`]:
        "_extends: other/shared:conf/envhooks.yml\nprune_branches: false\nfetch_branches: true\n",
      "other/shared:conf/envhooks.yml": "github:\n  comments: false\n",
    });
    const read = await fetchRepoOptions(readFile, { owner: "o", repo: "r" }, null);
    expect(read.result).toMatchObject({
      ok: true,
      config: { fetch_branches: false, prune_branches: false, github: { comments: false, statuses: true } },
    });
    expect(read.sources.map((source) => source.repo)).toEqual(["o/r", "o/base", "other/shared"]);

    const loop = github({ [`o/r:${PATH}`]: "_extends: base\n", [`o/base:${PATH}`]: "_extends: r\n" });
    const looped = await fetchRepoOptions(loop.readFile, { owner: "o", repo: "r" }, null);
    expect(looped.result).toMatchObject({ ok: false, problems: [expect.stringContaining("(a loop)")] });
  });

  it("keeps reporting a file it cannot use while GitHub answers 304 for it", async () => {
    const big = `# ${"x".repeat(70 * 1024)}\n`;
    for (const text of [big, "fetch_branches: [true\n", "- a list\n"]) {
      const { readFile, requests } = github({
        [`o/r:${PATH}`]: text,
        [`o/.github:${PATH}`]: "fetch_branches: false\n",
      });
      const first = await fetchRepoOptions(readFile, { owner: "o", repo: "r" }, null);
      expect(first.result.ok).toBe(false);
      const again = await fetchRepoOptions(readFile, { owner: "o", repo: "r" }, first.sources);
      expect(again.unchanged).toBe(1);
      expect(again.result).toEqual(first.result);
      // The owner's file never stands in for a file that exists but is unusable.
      expect(requests).toEqual([`o/r:${PATH}`, `o/r:${PATH}`]);
    }
  });

  it("throws GitHub API failures, so the event is retried or the stored options used", async () => {
    const failure = Object.assign(new Error("Server Error"), { status: 502 });
    await expect(
      fetchRepoOptions(() => Promise.reject(failure), { owner: "o", repo: "r" }, null),
    ).rejects.toBe(failure);
  });

  it("does not let a __proto__ key reach the merged options", async () => {
    const { readFile } = github({ [`o/r:${PATH}`]: "__proto__:\n  fetch_branches: false\n" });
    const read = await fetchRepoOptions(readFile, { owner: "o", repo: "r" }, null);
    expect(read.result).toMatchObject({ ok: true, config: { fetch_branches: true } });
    expect(Object.getPrototypeOf(read.result.ok ? read.result.config : null)).toBe(Object.prototype);
  });
});
