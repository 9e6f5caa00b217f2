import type { Context } from "hono";
import { html } from "hono/html";
import { renderPage } from "../layout.ts";
import { type ApiError, movedProjectPath } from "./call-api.ts";

const TITLES: Record<number, string> = {
  400: "That request was refused",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict",
};

/** The API's refusal as a page, with its own status and message. */
export function errorPage(c: Context, answer: { status: number; error: ApiError; movedTo?: string }) {
  // A renamed project's old URL: 307 to the same page under the new name, as the API answers
  // (not cached: another repository may take the old name).
  const moved = answer.movedTo && movedProjectPath(c.req.url, answer.movedTo);
  if (moved) {
    c.header("cache-control", "no-store");
    return c.redirect(moved, 307);
  }
  const status = ([400, 403, 404, 409] as const).find((known) => known === answer.status) ?? 502;
  const title = TITLES[status] ?? "Something went wrong";
  return renderPage(
    c,
    {
      title,
      body: html`<h1>${title}</h1>
<p class="notice bad" role="alert">${answer.error.message}</p>
<p><a href="/">Back to the projects</a></p>`,
    },
    status,
  );
}
