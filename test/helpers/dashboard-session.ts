import { expect } from "vitest";

/** Something that answers requests like a Hono app. */
interface Requester {
  request(path: string, init?: RequestInit): Response | Promise<Response>;
}

/** The `name=value` pairs of a response's Set-Cookie headers, for a Cookie header. */
function cookiesOf(response: Response, jar: Map<string, string>) {
  for (const line of response.headers.getSetCookie()) {
    const [pair = ""] = line.split(";");
    const index = pair.indexOf("=");
    const name = pair.slice(0, index);
    const value = pair.slice(index + 1);
    if (value === "" || /max-age=0/i.test(line)) jar.delete(name);
    else jar.set(name, value);
  }
}

/** A browser without a browser: keeps cookies and sends forms with the page's CSRF token. */
export class DashboardClient {
  readonly jar = new Map<string, string>();
  csrf = "";

  readonly app: Requester;

  constructor(app: Requester) {
    this.app = app;
  }

  get cookie(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const response = await this.app.request(path, { headers: { cookie: this.cookie, ...headers } });
    cookiesOf(response, this.jar);
    return response;
  }

  /** Posts a form (the session's `_csrf` added unless `csrf: false`). */
  async post(
    path: string,
    fields: Record<string, string | string[]> = {},
    { csrf = true } = {},
  ): Promise<Response> {
    const body = new URLSearchParams();
    if (csrf) body.append("_csrf", this.csrf);
    for (const [name, value] of Object.entries(fields)) {
      for (const item of Array.isArray(value) ? value : [value]) body.append(name, item);
    }
    const response = await this.app.request(path, {
      method: "POST",
      headers: { cookie: this.cookie, "content-type": "application/x-www-form-urlencoded" },
      body: body.toString(),
    });
    cookiesOf(response, this.jar);
    return response;
  }

  /** Signs in with a token through /login, as a person would; returns where it was sent. */
  async signIn(token: string, next = "/"): Promise<string> {
    const login = await this.get(`/login?next=${encodeURIComponent(next)}`);
    const page = await login.text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
    expect(csrf, "the login form's CSRF token").toBeTruthy();
    this.csrf = csrf ?? "";
    const response = await this.post("/login", { token, next });
    expect(response.status).toBe(303);
    const home = await this.get("/");
    this.csrf = /name="_csrf" value="([^"]+)"/.exec(await home.text())?.[1] ?? "";
    return response.headers.get("location") ?? "";
  }
}
