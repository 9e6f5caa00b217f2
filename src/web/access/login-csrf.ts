import { randomToken } from "./session.ts";

/** How long a login form's CSRF value is accepted after the form was rendered. */
export const LOGIN_CSRF_MAX_AGE_MS = 3600_000;
/** Spent values remembered at most; past it, the oldest are forgotten first. */
const MAX_SPENT = 100_000;

/**
 * The sign-in form's CSRF values: each is accepted once, within an hour of the form that carries
 * it (`<issued ms>.<random>`), so a sign-in attempt always needs a fresh form and the answer to
 * each attempt carries a new value. There is no session yet to keep them in: the spent ones are
 * remembered in this process until they would be too old anyway.
 */
export class LoginCsrf {
  readonly #spent = new Map<string, number>();

  /** A new value for a form rendered at `at`. */
  issue(at: number): string {
    return `${at}.${randomToken()}`;
  }

  /** Accepts `value` once: false when it is malformed, older than an hour, or already spent. */
  spend(value: string, at: number): boolean {
    const issued = Number(value.slice(0, value.indexOf(".")));
    if (!Number.isSafeInteger(issued) || at - issued >= LOGIN_CSRF_MAX_AGE_MS || issued > at + 60_000) {
      return false;
    }
    if (this.#spent.has(value)) return false;
    this.#spent.set(value, issued + LOGIN_CSRF_MAX_AGE_MS);
    if (this.#spent.size > MAX_SPENT) {
      for (const [spent, until] of this.#spent) {
        if (this.#spent.size <= MAX_SPENT && until > at) break;
        this.#spent.delete(spent);
      }
    }
    return true;
  }
}
