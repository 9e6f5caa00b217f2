import type { ProbotOctokit } from "probot";
import type { Metrics } from "../metrics.ts";

/** Below this many requests left in an installation's window, only final states are sent until it resets. */
export const LOW_BUDGET = 100;

export interface Window {
  remaining: number;
  /** When GitHub resets the window (ms since the epoch). */
  resetAt: number;
}

type Headers = Record<string, string | number | undefined>;

/**
 * What GitHub says of each installation's rate limit, from the `x-ratelimit-*` headers of its
 * answers: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
 */
export class RateBudget {
  readonly #windows = new Map<number, Window>();
  readonly #metrics: Metrics | undefined;

  constructor(metrics?: Metrics) {
    this.#metrics = metrics;
  }

  /** Records the budget from every answer (and error) of `octokit`, made for `installationId`. */
  watch(octokit: InstanceType<typeof ProbotOctokit>, installationId: number): void {
    octokit.hook.after("request", (response) => this.record(installationId, response.headers as Headers));
    octokit.hook.error("request", (error) => {
      const headers = (error as { response?: { headers?: Headers } }).response?.headers;
      if (headers) this.record(installationId, headers);
      throw error;
    });
  }

  record(installationId: number, headers: Headers): void {
    const remaining = Number(headers["x-ratelimit-remaining"]);
    const reset = Number(headers["x-ratelimit-reset"]);
    if (!Number.isFinite(remaining) || headers["x-ratelimit-remaining"] === undefined) return;
    this.#windows.set(installationId, { remaining, resetAt: Number.isFinite(reset) ? reset * 1000 : 0 });
    this.#metrics?.githubRateLimitRemaining.set({ installation: String(installationId) }, remaining);
  }

  /**
   * What GitHub last said is left of the installation's window, and when it resets; undefined when
   * this process has not heard (or the window has reset since). Per process: each instance knows
   * the answers it got itself.
   */
  left(installationId: number, now = Date.now()): Window | undefined {
    const window = this.#windows.get(installationId);
    return window && window.resetAt > now ? { ...window } : undefined;
  }

  /** Until when only final states go out for the installation (its budget is low); undefined: no limit. */
  lowUntil(installationId: number, now = Date.now()): Date | undefined {
    const window = this.#windows.get(installationId);
    if (!window || window.remaining >= LOW_BUDGET || window.resetAt <= now) return undefined;
    return new Date(window.resetAt);
  }
}

/**
 * How long GitHub asked envhooks to wait, when `error` is a rate-limit answer: a `retry-after`, an
 * exhausted window (`x-ratelimit-remaining: 0`) until its reset, or a secondary limit (at least a
 * minute, as GitHub asks). Undefined for every other error.
 * https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately
 */
export function rateLimitWaitMs(error: unknown, now = Date.now()): number | undefined {
  const status = (error as { status?: unknown }).status;
  if (status !== 403 && status !== 429) return undefined;
  const headers = (error as { response?: { headers?: Headers } }).response?.headers ?? {};
  const retryAfter = headers["retry-after"];
  if (retryAfter !== undefined && Number.isFinite(Number(retryAfter)))
    return Math.max(1, Number(retryAfter)) * 1000;
  if (headers["x-ratelimit-remaining"] !== undefined && Number(headers["x-ratelimit-remaining"]) === 0) {
    const reset = Number(headers["x-ratelimit-reset"]) * 1000;
    return Number.isFinite(reset) ? Math.max(1000, reset - now + 1000) : 60_000;
  }
  if (status === 429 || /secondary rate limit/i.test(String((error as Error).message))) return 60_000;
  return undefined;
}
