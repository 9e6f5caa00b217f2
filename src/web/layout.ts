import type { Context } from "hono";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

/** Markup made with `html\`…\``: interpolations are escaped, nested markup is kept. */
export type Markup = HtmlEscapedString | Promise<HtmlEscapedString>;

export interface LayoutOptions {
  /** The page's own title; the document's is "<title> · envhooks". */
  title: string;
  /** What goes inside `<main>`. */
  body: Markup;
  /** Which nav entry is the current page (`aria-current`). */
  current?: "projects" | "tokens" | "alerts" | "docs";
  /** Breadcrumbs above the heading, e.g. the project of an activity. */
  crumbs?: Array<{ href: string; label: string }>;
}

/** Who is signed in, as ACCESS's `loadSession` sets it (read loosely: the layout also serves /setup). */
interface SessionView {
  csrf: string;
}
type PrincipalView =
  | { kind: "operator" }
  | { kind: "project"; projectKey: string }
  | { kind: "user"; login: string; projects?: ReadonlyMap<string, string> };

/** The hidden CSRF field every form of a signed-in page carries. */
export function csrfInput(c: Context): Markup {
  const session = readVar<SessionView>(c, "session");
  return session ? html`<input type="hidden" name="_csrf" value="${session.csrf}" />` : html``;
}

/** The CSRF token of the session, for the API's `x-envhooks-csrf` header. */
export function sessionCsrf(c: Context): string | undefined {
  return readVar<SessionView>(c, "session")?.csrf;
}

/**
 * The whole HTML document around a page: skip link, header with who is signed in and a logout form,
 * nav, one `<main>` landmark, CSS and the live-update script from /assets (never another origin).
 */
export function layout(c: Context, options: LayoutOptions): Markup {
  const session = readVar<SessionView>(c, "session");
  const principal = readVar<PrincipalView>(c, "principal");
  const isOperator = principal?.kind === "operator";
  // Repository admins manage their repositories' tokens.
  const managesTokens = isOperator || adminRepositories(principal).length > 0;
  const navItem = (key: LayoutOptions["current"], href: string, label: string) =>
    html`<li><a href="${href}"${options.current === key ? html` aria-current="page"` : ""}>${label}</a></li>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<meta name="color-scheme" content="light dark" />
<title>${options.title} · envhooks</title>
<link rel="stylesheet" href="/assets/app.css" />
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
<script src="/assets/live.js" defer></script>
<script src="/assets/page.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">envhooks</a>
  ${
    session
      ? html`<nav aria-label="Main"><ul>
      ${navItem("projects", "/", "Projects")}
      ${managesTokens ? navItem("tokens", "/tokens", "Tokens") : ""}
      ${isOperator ? navItem("alerts", "/alerts", "Owner alerts") : ""}
      ${navItem("docs", "/docs", "API reference")}
    </ul></nav>
    <form class="search" method="get" action="/search" role="search">
      <label for="search-q" class="visually-hidden">Search</label>
      <input type="search" id="search-q" name="q" placeholder="sha, id or branch" maxlength="200" />
      <button type="submit">Search</button>
    </form>
    <div class="who">
      <span>Signed in as <strong>${describePrincipal(principal)}</strong></span>
      <form method="post" action="/logout">
        <input type="hidden" name="_csrf" value="${session.csrf}" />
        <button type="submit" class="link">Sign out</button>
      </form>
    </div>`
      : ""
  }
</header>
<main id="main" tabindex="-1">
  ${
    options.crumbs?.length
      ? html`<nav aria-label="Breadcrumb" class="crumbs"><ol>${options.crumbs.map(
          (crumb) => html`<li><a href="${crumb.href}">${crumb.label}</a></li>`,
        )}</ol></nav>`
      : ""
  }
  ${options.body}
</main>
</body>
</html>`;
}

/** The repositories (keys) a GitHub user signed in is admin of; none for anyone else. */
export function adminRepositories(principal: PrincipalView | undefined): string[] {
  if (principal?.kind !== "user" || !principal.projects) return [];
  return [...principal.projects].filter(([, access]) => access === "admin").map(([key]) => key);
}

function describePrincipal(principal: PrincipalView | undefined): string {
  if (!principal) return "someone";
  if (principal.kind === "operator") return "the operator";
  if (principal.kind === "user") return principal.login;
  return `a token for ${principal.projectKey}`;
}

/** A context variable that another part sets (ACCESS's session and principal), or undefined. */
function readVar<T>(c: Context, key: string): T | undefined {
  return (c.var as Record<string, unknown>)[key] as T | undefined;
}

/**
 * Nothing from another origin, ever: the browser itself refuses what envhooks does not serve
 * (scripts, styles, images, connections, form targets), and no other site may frame the pages.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/** Answers with the page in the layout, under the content security policy. */
export function renderPage(
  c: Context,
  options: LayoutOptions,
  status: 200 | 400 | 403 | 404 | 409 | 502 = 200,
) {
  c.header("content-security-policy", CONTENT_SECURITY_POLICY);
  c.header("x-content-type-options", "nosniff");
  c.header("referrer-policy", "same-origin");
  // Pages show what only the signed-in person may see (a new token, once): no cache keeps them.
  c.header("cache-control", "no-store");
  return c.html(layout(c, options), status);
}
