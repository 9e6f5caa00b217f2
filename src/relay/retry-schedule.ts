/** Retry-After is honoured within these bounds, so a receiver can neither hammer nor park us. */
const RETRY_AFTER_MIN_MS = 1_000;
const RETRY_AFTER_MAX_MS = 3_600_000;

/**
 * How long to wait before the next attempt after `failures` consecutive failures, or undefined when
 * the schedule is exhausted. Each wait gets ±20 % jitter so receivers coming back up are not hit by
 * every sender at once; a Retry-After answer replaces the scheduled wait.
 */
export function nextRetryDelayMs(
  failures: number,
  schedule: readonly number[],
  { retryAfterMs, random = Math.random }: { retryAfterMs?: number | undefined; random?: () => number } = {},
): number | undefined {
  if (failures < 1 || failures > schedule.length) return undefined;
  if (retryAfterMs !== undefined)
    return Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, retryAfterMs));
  const base = (schedule[failures - 1] ?? 0) * 1000;
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** Reads Retry-After: seconds, or an HTTP date. https://www.rfc-editor.org/rfc/rfc9110#field.retry-after */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
