import type { Context } from "hono";
import { sessionCsrf } from "../layout.ts";
import type { WebDeps } from "../web-routes.ts";

/** The API's error shape: `{ error: { code, message, details } }`. */
export interface ApiError {
  code: string;
  message: string;
  details: { fields?: Array<{ field: string; message: string }> } | null;
}

export type ApiAnswer<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; error: ApiError; movedTo?: string };

/**
 * Calls envhooks' own API as the signed-in person: their session cookie, and for changes the
 * session's CSRF token, so the API's authentication, authorization and validation decide.
 */
export async function callApi<T>(
  deps: Pick<WebDeps, "callApi">,
  c: Context,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = { accept: "application/json" };
  const cookie = c.req.header("cookie");
  if (cookie) headers.cookie = cookie;
  const csrf = sessionCsrf(c);
  if (csrf) headers["x-envhooks-csrf"] = csrf;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await deps.callApi(path, {
    method: init.method ?? "GET",
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (response.ok) return { ok: true, status: response.status, body: parsed as T };
  // A renamed or transferred project's old name: the page follows it as the API does (errorPage).
  const movedTo = (parsed as { moved_to?: unknown } | null)?.moved_to;
  if (response.status === 307 && typeof movedTo === "string") {
    const message = `${(parsed as { message?: string }).message ?? `The project is now ${movedTo}.`}`;
    return { ok: false, status: 307, error: { code: "moved", message, details: null }, movedTo };
  }
  const error = (parsed as { error?: ApiError } | null)?.error;
  return {
    ok: false,
    status: response.status,
    error: error ?? { code: "unexpected", message: `The API answered ${response.status}.`, details: null },
  };
}

/** The API's messages per form field (`events.0` counts for `events`). */
export function fieldErrors(error: ApiError | undefined): Map<string, string> {
  const fields = new Map<string, string>();
  for (const { field, message } of error?.details?.fields ?? []) {
    const name = field.split(".")[0] ?? field;
    fields.set(name, fields.has(name) ? `${fields.get(name)}; ${message}` : message);
  }
  return fields;
}

/** `/api/projects/{owner}/{repo}` with each part encoded. */
export function apiProjectPath(owner: string, repo: string): string {
  return `/api/projects/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`;
}

/**
 * The dashboard's path under a moved project's new name: `/projects/{old}/{rest}?{query}` becomes
 * `/projects/{new}/{rest}?{query}`; undefined for a path of no project.
 */
export function movedProjectPath(url: string, movedTo: string): string | undefined {
  const { pathname, search } = new URL(url);
  const match = /^\/projects\/[^/]+\/[^/]+(.*)$/.exec(pathname);
  if (!match) return undefined;
  const [owner = "", repo = ""] = movedTo.split("/");
  return `/projects/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}${match[1] ?? ""}${search}`;
}
