import { html, raw } from "hono/html";
import type { Markup } from "../layout.ts";

/**
 * The little Markdown the API's own descriptions use, as HTML: paragraphs (blank lines), `- ` lists,
 * `code`, **bold**, *emphasis* and [links](https://…) to http(s) or same-site paths. Everything is
 * escaped first; only these marks become tags. (marked or markdown-it would do more, but they would
 * be a new dependency for text envhooks writes itself.)
 */
export function renderMarkdown(text: string): Markup {
  const blocks = text.trim().split(/\n\s*\n/);
  return html`${blocks.map((block) => {
    const lines = block.split("\n");
    if (lines.every((line) => /^\s*[-*] /.test(line)))
      return raw(
        `<ul>${lines.map((line) => `<li>${inline(line.replace(/^\s*[-*] /, ""))}</li>`).join("")}</ul>`,
      );
    return raw(`<p>${inline(block)}</p>`);
  })}`;
}

const escapeHtml = (text: string) =>
  text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");

/** One block's inline marks. Code spans first, so nothing inside them is read as a mark. */
function inline(text: string): string {
  return text
    .split(/(`[^`]+`)/)
    .map((part) => {
      if (/^`[^`]+`$/.test(part)) return `<code>${escapeHtml(part.slice(1, -1))}</code>`;
      return escapeHtml(part)
        .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
        .replace(/(^|[^*\w])\*([^*\s][^*]*)\*(?!\w)/g, "$1<em>$2</em>")
        .replace(/\[([^\]]+)\]\(((?:https?:\/\/|\/)[^\s)]+)\)/g, (_match, label: string, href: string) => {
          return `<a href="${href}">${label}</a>`;
        });
    })
    .join("");
}
