import ms from "ms";
import { z } from "zod";

/** A duration such as `90s`, `2m` or `1h` (the `ms` package's syntax), kept as written. */
const duration = (least: number, example: string) =>
  z.string().refine(
    (text) => {
      const value = ms(text as ms.StringValue);
      return typeof value === "number" && value >= least;
    },
    `must be a duration of at least ${ms(least, { long: true })}, such as ${example}`,
  );

/**
 * `wait_for_checks` and its companions in `.github/envhooks.yml` (issue 25), spread into the
 * options' schema: a push's rebuild waits for the head commit's checks.
 */
export const waitForChecksFields = {
  /** `all`: every check suite and commit status of the head commit; `required`: the branch's required checks. */
  wait_for_checks: z
    .enum(["none", "all", "required"])
    .default("none")
    .describe(
      "Before a push rebuilds or creates an environment, wait for the head commit's checks: `none` (do not wait), `all` (every check suite and commit status), or `required` (the checks the branch's protection or rulesets require). A failing check fails the activity, naming it.",
    ),
  /** A wait still unsettled this long after the push fails, naming the checks still pending. */
  wait_for_checks_timeout: duration(60_000, "30m")
    .default("30m")
    .describe(
      "How long to wait for the checks (e.g. `30m`); then the activity fails, naming the checks still pending.",
    ),
  /** Checks that never gate a build: globs matched against a check run's name or a status's context. */
  wait_for_checks_ignore: z
    .array(z.string().min(1).max(200))
    .max(50)
    .default([])
    .describe(
      "Checks that never gate a build: globs (`*` matches anything) against a check run's name, a check suite's app, or a commit status's context. envhooks' own `envhooks/*` statuses are always ignored.",
    ),
  /** When no check suite or status appeared this long after the push, the build goes ahead without checks. */
  wait_for_checks_grace: duration(1_000, "2m")
    .default("2m")
    .describe(
      "When no check suite or commit status appears this long after the push (e.g. `2m`), the build proceeds without checks and says so in its log. Set it higher for a repository whose CI starts late.",
    ),
};
