import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../../src/web/pages/render-markdown.ts";

const render = async (text: string) => String(await renderMarkdown(text));

describe("renderMarkdown (the API reference's descriptions)", () => {
  it.each([
    [
      "code, bold and emphasis",
      "Use `a < b` with **care**, *now*",
      "<p>Use <code>a &lt; b</code> with <strong>care</strong>, <em>now</em></p>",
    ],
    ["marks inside code stay text", "`**not bold**`", "<p><code>**not bold**</code></p>"],
    [
      "http(s) and same-site links",
      "See [docs](https://example.com/a) or [here](/docs)",
      '<p>See <a href="https://example.com/a">docs</a> or <a href="/docs">here</a></p>',
    ],
    ["other link schemes stay text", "[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"],
    [
      "markup is escaped",
      '<script>alert("x")</script>',
      "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</p>",
    ],
    ["paragraphs and lists", "One\n\n- a\n- `b`", "<p>One</p><ul><li>a</li><li><code>b</code></li></ul>"],
  ])("%s", async (_name, text, expected) => {
    expect(await render(text)).toBe(expected);
  });
});
