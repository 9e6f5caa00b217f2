// The figures issues 16 and 26 set targets for (issue 26's where both do; and the GitHub phases' own), in the order, and the
// table `npm run bench` ends with: one row per figure, its target, one column per store, ✔ or ✘.
import { markdown } from "./bench-helpers.ts";

export const FIGURES = {
  ack: {
    figure: "ack p99 at 200 events/s, fan-out 1 and 5, receivers answering at once",
    target: "≤ 15 ms PGlite, ≤ 10 ms PostgreSQL",
  },
  fanOut1P95: {
    figure: "first-attempt delivery p95 at 200 events/s, fan-out 1, receivers answering at once",
    target: "≤ 50 ms PGlite",
  },
  addedP95: {
    figure:
      "first-attempt delivery p95 over the receiver's own time: receivers at 50–150 ms, fan-out 5, 200 events/s",
    target: "≤ 250 ms PGlite, ≤ 100 ms PostgreSQL",
  },
  addedP99: { figure: "… p99", target: "≤ 500 ms PGlite, ≤ 200 ms PostgreSQL" },
  sustained: {
    figure:
      "signed, logged deliveries/s sustained: 1,000 events at once × fan-out 5, receivers answering at once",
    target: "≥ 1,500 PGlite, ≥ 3,000 PostgreSQL",
  },
  oneIntegration: {
    figure: "one integration, 20 environments, receiver at 100 ms: deliveries/s sustained",
    target: "≥ 120",
  },
  ingest: {
    figure: "ingest at saturation, share of the Probot app's events/s",
    target: "≥ 25 % PGlite, ≥ 50 % PostgreSQL",
  },
  rss: { figure: "idle RSS", target: "≤ 250 MB PGlite, ≤ 120 MB PostgreSQL" },
  rssLoad: { figure: "RSS under load, most seen", target: "≤ 400 MB PGlite, ≤ 250 MB PostgreSQL" },
  githubP95: {
    figure: "GitHub in the loop, 20 pushes/s to one repository: push → receiver p95",
    target: "≤ 250 ms",
  },
  configReads: { figure: "… config reads per push", target: "≤ 0.1" },
  pullRequestWrites: { figure: "a pull request pushed to 10 times: GitHub writes", target: "≤ 15" },
  pullRequestShown: { figure: "… its final state on GitHub after the last push", target: "≤ 10 s" },
  manyShown: {
    figure:
      "50 repositories in 10 installations at 200 pushes/s: every final state on GitHub after the last push",
    target: "≤ 30 s",
  },
  actionsShown: {
    figure:
      "runner: github-actions, a pull request pushed to 10 times: final state on GitHub after the run's completed event; one dispatch per activity dispatched",
    target: "≤ 2 s; dispatches = activities",
  },
  checksCalls: {
    figure: "wait_for_checks: all, 100 pushes over 20 branches: GitHub calls per push beyond the first read",
    target: "0",
  },
  checksP95: { figure: "… deciding check event → activity proceeds, p95", target: "≤ 200 ms" },
} as const;

export type Figure = keyof typeof FIGURES;

export interface Target {
  figure: string;
  target: string;
  store: string;
  measured: string;
  met: boolean;
}

export function target(figure: Figure, store: string, measured: string, met: boolean): Target {
  return { ...FIGURES[figure], store, measured, met };
}

/** One row per figure (in FIGURES' order), its target, then each store's measure marked ✔ or ✘. */
export function targetTable(targets: Target[]): string {
  const stores = [...new Set(targets.map((t) => t.store))];
  const rows = Object.values(FIGURES).flatMap(({ figure, target }) => {
    const measured = targets.filter((t) => t.figure === figure);
    if (!measured.length) return [];
    const cell = (store: string) => {
      const found = measured.find((t) => t.store === store);
      return found ? `${found.measured} ${found.met ? "✔" : "✘"}` : "–";
    };
    return [[figure, target, ...stores.map(cell)]];
  });
  return markdown(["figure", "target", ...stores], rows);
}
