import { html } from "hono/html";
import type { Markup } from "../layout.ts";

/** One hour of deliveries as the API shows it. */
export interface HourJson {
  start: string;
  delivered: number;
  failed: number;
  pending?: number;
}

/** An integration's last 24 hours as the API's `/health` shows it. */
export interface HealthJson {
  since: string;
  counts: { pending: number; delivered: number; failed: number };
  hours: HourJson[];
  latency_ms: { p50: number | null; p95: number | null; attempts: number };
}

/** "HTTP 500" once: a reason that only repeats the status is not said twice. */
export function answerText(status: string | number | null | undefined, reason: string | null | undefined) {
  const code = status === null || status === undefined ? "" : String(status);
  const why = reason ?? "";
  if (!code) return why;
  if (!why || why === `HTTP ${code}` || why === code) return `HTTP ${code}`;
  return why.startsWith(`HTTP ${code}`) ? why : `HTTP ${code} ${why}`;
}

const HOUR_MS = 3_600_000;

/** 24 hours ending with the current one, oldest first, from the hours the API listed (others empty). */
export function lastDay(hours: HourJson[], now = Date.now()): HourJson[] {
  const current = Math.floor(now / HOUR_MS) * HOUR_MS;
  const byStart = new Map(hours.map((hour) => [new Date(hour.start).getTime(), hour]));
  return Array.from({ length: 24 }, (_, index) => {
    const start = current - (23 - index) * HOUR_MS;
    return byStart.get(start) ?? { start: new Date(start).toISOString(), delivered: 0, failed: 0 };
  });
}

const total = (hours: HourJson[]) =>
  hours.reduce(
    (sum, hour) => ({ delivered: sum.delivered + hour.delivered, failed: sum.failed + hour.failed }),
    { delivered: 0, failed: 0 },
  );

/** "12 delivered, 1 failed in the last 24 hours". */
function summary(hours: HourJson[]): string {
  const { delivered, failed } = total(hours);
  if (delivered + failed === 0) return "No delivery in the last 24 hours";
  return `${delivered} delivered, ${failed} failed in the last 24 hours`;
}

/**
 * Deliveries per hour over the last 24 hours, delivered (bottom) and failed (top) stacked, as inline
 * SVG drawn here: no chart library, no script. Each bar says its hour and counts on hover (`title`);
 * the whole chart says its totals to screen readers. It scales to its box (viewBox).
 */
export function healthChart(hours: HourJson[], id: string): Markup {
  const width = 24 * 12;
  const height = 60;
  const max = Math.max(1, ...hours.map((hour) => hour.delivered + hour.failed));
  const bars = hours.map((hour, index) => {
    const x = index * 12 + 1;
    const okHeight = (hour.delivered / max) * (height - 2);
    const badHeight = (hour.failed / max) * (height - 2);
    const label = `${hour.start.slice(11, 16)} UTC: ${hour.delivered} delivered, ${hour.failed} failed`;
    return html`<g><title>${label}</title>${
      okHeight > 0
        ? html`<rect class="chart-ok" x="${x}" y="${(height - okHeight).toFixed(1)}" width="10" height="${okHeight.toFixed(1)}" />`
        : ""
    }${
      badHeight > 0
        ? html`<rect class="chart-bad" x="${x}" y="${(height - okHeight - badHeight).toFixed(1)}" width="10" height="${badHeight.toFixed(1)}" />`
        : ""
    }<rect class="chart-hit" x="${x - 1}" y="0" width="12" height="${height}" /></g>`;
  });
  return html`<figure class="chart" id="${id}">
<svg viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img" aria-label="Deliveries per hour: ${summary(hours)}">
<line class="chart-axis" x1="0" y1="${height - 0.5}" x2="${width}" y2="${height - 0.5}" />
${bars}
</svg>
<figcaption class="muted">${summary(hours)} <span class="legend"><span class="swatch chart-ok"></span> delivered <span class="swatch chart-bad"></span> failed</span></figcaption>
</figure>`;
}

/** A small line of the last 24 hours' success rate per hour (gaps where nothing was sent), for a card. */
export function sparkline(hours: HourJson[]): Markup {
  const width = 96;
  const height = 20;
  const points = hours.map((hour, index) => {
    const done = hour.delivered + hour.failed;
    const x = (index / 23) * (width - 2) + 1;
    return done === 0
      ? undefined
      : { x, y: 1 + (1 - hour.delivered / done) * (height - 2), failed: hour.failed };
  });
  const segments: string[] = [];
  let current: string[] = [];
  for (const point of points) {
    if (!point) {
      if (current.length) segments.push(current.join(" "));
      current = [];
      continue;
    }
    current.push(`${point.x.toFixed(1)},${point.y.toFixed(1)}`);
  }
  if (current.length) segments.push(current.join(" "));
  const sum = summary(hours);
  return html`<svg class="sparkline" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Success per hour: ${sum}"><title>${sum}</title>${segments.map(
    (segment) =>
      segment.includes(" ")
        ? html`<polyline points="${segment}" />`
        : html`<circle cx="${segment.split(",")[0]}" cy="${segment.split(",")[1]}" r="1.5" />`,
  )}${points.map((point) =>
    point && point.failed > 0
      ? html`<circle class="spark-bad" cx="${point.x.toFixed(1)}" cy="${point.y.toFixed(1)}" r="2" />`
      : "",
  )}</svg>`;
}
