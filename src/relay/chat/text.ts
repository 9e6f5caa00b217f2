/**
 * Text helpers shared by the chat formatters: cutting to a service's limit without splitting a
 * character (or an escape), and escaping what a service would otherwise read as markup.
 */

const ELLIPSIS = "…";

/** The text's length in UTF-16 code units (what JavaScript and most JSON limits count). */
export const chars = (text: string) => text.length;
/** The text's length in UTF-8 bytes. */
export const utf8Bytes = (text: string) => Buffer.byteLength(text, "utf8");

/**
 * `text` cut to at most `max` (measured by `measure`), ending in "…" when cut. Cuts between
 * characters (code points), never inside a surrogate pair.
 */
export function truncate(text: string, max: number, measure: (text: string) => number = chars): string {
  if (measure(text) <= max) return text;
  const points = Array.from(text);
  let low = 0;
  let high = points.length;
  // The longest prefix that fits with the ellipsis.
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (measure(points.slice(0, mid).join("") + ELLIPSIS) <= max) low = mid;
    else high = mid - 1;
  }
  return points.slice(0, low).join("").trimEnd() + ELLIPSIS;
}

/**
 * Joins `items` with `separator` while the whole stays within `max`, then says how many were left
 * out: "… and 12 more". Items are escaped before they are counted, so no escape is ever cut.
 */
export function listWithin(
  items: string[],
  max: number,
  { separator = "\n", measure = chars, more = (n: number) => `… and ${n} more` } = {},
): string {
  const all = items.join(separator);
  if (measure(all) <= max) return all;
  const kept: string[] = [];
  for (const item of items) {
    const left = items.length - kept.length - 1;
    if (measure([...kept, item, more(left)].join(separator)) > max) break;
    kept.push(item);
  }
  return [...kept, more(items.length - kept.length)].join(separator);
}

/** The first line of a commit message. */
export const firstLine = (message: string) => message.split(/\r?\n/, 1)[0]?.trim() ?? "";

/** HTML text: `&`, `<`, `>`, `"` and `'` as entities. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "#39" }[c]};`,
  );
}

/**
 * `truncate` for text that holds entities (`&amp;`, `&#39;`): an entity the cut would split is
 * dropped whole.
 */
export function truncateEscaped(
  text: string,
  max: number,
  measure: (text: string) => number = chars,
): string {
  return truncate(text, max, measure).replace(/&[a-z0-9#]{0,6}…$/i, "…");
}

/** `&`, `<` and `>` as entities: what Slack and Mattermost need escaped to show text as text. */
export function escapeEntities(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const ZERO_WIDTH_SPACE = "\u200B";

/**
 * Slack mrkdwn: `&`, `<` and `>` as entities (so `<@everyone>` or `<!channel>` stay text), and a
 * zero-width space before `*`, `_`, `~` and `` ` `` so a commit message cannot bold or strike text.
 */
export function escapeSlack(text: string): string {
  return escapeEntities(text).replace(/[*_~`]/g, (c) => ZERO_WIDTH_SPACE + c);
}

/**
 * Markdown as Discord and Mattermost read it: a backslash before each markup character, and a
 * zero-width space after `@` so `@everyone`, `@here`, `@channel` and `@all` notify nobody.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\*_~`|>#[\]]/g, (c) => `\\${c}`).replace(/@/g, `@${ZERO_WIDTH_SPACE}`);
}

/**
 * A URL fit to put in any chat markup as a link, or undefined when it is not an absolute http(s)
 * URL (a `javascript:` URL is never linked). The URL parser percent-encodes spaces, quotes, `<`
 * and `>`; the characters that end a link elsewhere (Slack's `|`, markdown's brackets and
 * parentheses, and `{`, `}`, `\`, `^`) are percent-encoded too, which names the same resource.
 */
export function linkUrl(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  const encode = (part: string) =>
    part.replace(
      /[|()[\]{}\\^`<>"\s]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
    );
  const credentials = url.username
    ? `${encode(url.username)}${url.password ? `:${encode(url.password)}` : ""}@`
    : "";
  // The host is left as parsed: an IPv6 address keeps its brackets.
  return `${url.protocol}//${credentials}${url.host}${encode(url.pathname + url.search + url.hash)}`;
}

/** A markdown link (Discord, Mattermost, Teams) to `url`; the label alone when `url` cannot be linked. */
export function markdownLink(escapedLabel: string, url: string): string {
  const href = linkUrl(url);
  return href ? `[${escapedLabel}](${href})` : escapedLabel;
}

/** An HTML link (HipChat, Google Chat) to `url`; the label alone when `url` cannot be linked. */
export function htmlLink(url: string, label: string): string {
  const href = linkUrl(url);
  return href ? `<a href="${escapeHtml(href)}">${escapeHtml(label)}</a>` : escapeHtml(label);
}
