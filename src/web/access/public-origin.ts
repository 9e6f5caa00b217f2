import type { Context } from "hono";
import { html } from "hono/html";
import ipaddr from "ipaddr.js";
import { accessPage } from "./session.ts";

/**
 * Whether a URL's hostname names this machine: `localhost` and `*.localhost` (RFC 6761: browsers
 * resolve them to loopback), 127.0.0.0/8, `::1` and their IPv4-mapped forms.
 */
export function isLoopbackHost(hostname: string): boolean {
  const name = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (!ipaddr.isValid(name)) return false;
  const parsed = ipaddr.process(name);
  return parsed.range() === "loopback";
}

/**
 * The origin envhooks tells GitHub (OAuth `redirect_uri`, the App manifest's URLs):
 * ENVHOOKS_PUBLIC_URL when set. Without it, only in local development, which is a request to a
 * loopback host (`localhost`, 127.0.0.1, `[::1]`): the Host header is whatever the sender wrote, so
 * any other host gets no origin (undefined) and the flow is refused by `hostRefused`.
 */
export function publicOrigin(c: Context, publicUrl: string | undefined): string | undefined {
  if (publicUrl) return publicUrl;
  const url = new URL(c.req.url);
  return isLoopbackHost(url.hostname) ? url.origin : undefined;
}

/** 421 for sign-in with GitHub or setup reached by a name envhooks cannot trust: what to set. */
export function hostRefused(c: Context) {
  const host = new URL(c.req.url).host;
  return accessPage(
    c,
    {
      title: "Public address needed",
      body: html`<h1>Set ENVHOOKS_PUBLIC_URL</h1>
<p class="notice bad" role="alert">envhooks was reached as <code>${host}</code>, and
<code>ENVHOOKS_PUBLIC_URL</code> is not set. Addresses envhooks gives GitHub (the sign-in callback, the
App's webhook and setup URLs) come from <code>ENVHOOKS_PUBLIC_URL</code>, never from the request's
<code>Host</code> header, except on <code>localhost</code> for local development.</p>
<p>Set <code>ENVHOOKS_PUBLIC_URL</code> to the address people use to open envhooks (for example
<code>https://envhooks.example.com</code>) and restart it, or open envhooks at
<code>http://localhost</code> on its own machine.</p>`,
    },
    421,
  );
}
