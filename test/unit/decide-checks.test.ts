import { describe, expect, it } from "vitest";
import { validateRepoConfig } from "../../src/config/validate-repo-config.ts";
import { checksUpdateOf } from "../../src/lifecycle/check-events.ts";
import { type CheckWait, type CommitCheck, decideChecks } from "../../src/lifecycle/decide-checks.ts";
import { checkRun, checkSuite, commitStatus } from "../fixtures/check-events.ts";

const START = new Date("2026-01-01T12:00:00Z");
const minutes = (n: number) => new Date(START.getTime() + n * 60_000);
const ALL: CheckWait = {
  mode: "all",
  ignore: [],
  startedAt: START,
  graceUntil: minutes(2),
  timeoutAt: minutes(30),
};
const REQUIRED: CheckWait = { ...ALL, mode: "required" };

const suite = (id: number, status: CommitCheck["status"], conclusion: string | null = null): CommitCheck => ({
  kind: "suite",
  key: `suite:${id}`,
  name: "github-actions",
  suiteId: null,
  status,
  conclusion,
  htmlUrl: null,
});
const run = (
  id: number,
  name: string,
  status: CommitCheck["status"],
  conclusion: string | null = null,
  suiteId = 1,
): CommitCheck => ({
  kind: "run",
  key: `run:${id}`,
  name,
  suiteId,
  status,
  conclusion,
  htmlUrl: `https://github.com/o/r/runs/${id}`,
});
const status = (context: string, state: string): CommitCheck => ({
  kind: "status",
  key: `status:${context}`,
  name: context,
  suiteId: null,
  status: state === "pending" ? "in_progress" : "completed",
  conclusion: state === "pending" ? null : state,
  htmlUrl: null,
});

describe("decideChecks", () => {
  it.each<[string, CheckWait, CommitCheck[], string[] | undefined, Date, string]>([
    ["nothing yet, within the grace", ALL, [], undefined, minutes(1), "wait"],
    ["nothing by the grace: no CI", ALL, [], undefined, minutes(2), "proceed"],
    [
      "only envhooks' own status by the grace",
      ALL,
      [status("envhooks/main", "pending")],
      undefined,
      minutes(3),
      "proceed",
    ],
    [
      "a suite still running",
      ALL,
      [suite(1, "in_progress"), run(11, "lint", "completed", "success")],
      undefined,
      minutes(1),
      "wait",
    ],
    [
      "a suite completed, its runs passed",
      ALL,
      [suite(1, "completed", "success"), run(11, "lint", "completed", "success")],
      undefined,
      minutes(1),
      "proceed",
    ],
    [
      "neutral and skipped pass",
      ALL,
      [run(11, "a", "completed", "neutral", 0), run(12, "b", "completed", "skipped", 0)],
      undefined,
      minutes(1),
      "proceed",
    ],
    [
      "a failed run fails, once all settled",
      ALL,
      [suite(1, "completed", "failure"), run(11, "lint", "completed", "failure")],
      undefined,
      minutes(1),
      "fail",
    ],
    [
      "a failed run while a status is pending: wait",
      ALL,
      [suite(1, "completed", "failure"), run(11, "lint", "completed", "failure"), status("ci", "pending")],
      undefined,
      minutes(1),
      "wait",
    ],
    [
      "a re-run replaces the failed run of its name",
      ALL,
      [
        suite(1, "completed", "success"),
        run(11, "lint", "completed", "failure"),
        run(13, "lint", "completed", "success"),
      ],
      undefined,
      minutes(1),
      "proceed",
    ],
    ["a status error fails", ALL, [status("ci", "error")], undefined, minutes(1), "fail"],
    [
      "an ignored failing status",
      { ...ALL, ignore: ["codecov/*"] },
      [status("codecov/patch", "failure"), status("ci", "success")],
      undefined,
      minutes(1),
      "proceed",
    ],
    [
      "a suite queued with no run past the grace never started",
      ALL,
      [suite(1, "queued"), status("ci", "success")],
      undefined,
      minutes(3),
      "proceed",
    ],
    [
      "a suite queued with no run within the grace",
      ALL,
      [suite(1, "queued"), status("ci", "success")],
      undefined,
      minutes(1),
      "wait",
    ],
    [
      "pending past the timeout fails",
      ALL,
      [run(11, "e2e", "in_progress", null, 0)],
      undefined,
      minutes(30),
      "fail",
    ],
    ["required not read yet", REQUIRED, [], undefined, minutes(1), "wait"],
    ["required: none", REQUIRED, [], [], minutes(0), "proceed"],
    [
      "required: only the required count",
      REQUIRED,
      [
        run(11, "lint", "completed", "success", 0),
        status("optional", "failure"),
        run(12, "slow", "queued", null, 0),
      ],
      ["lint"],
      minutes(1),
      "proceed",
    ],
    [
      "required: one missing",
      REQUIRED,
      [run(11, "lint", "completed", "success", 0)],
      ["lint", "ci/test"],
      minutes(1),
      "wait",
    ],
    [
      "required: a required failure",
      REQUIRED,
      [status("ci/test", "failure")],
      ["ci/test"],
      minutes(1),
      "fail",
    ],
  ])("%s", (_name, wait, checks, required, now, outcome) => {
    expect(decideChecks(wait, checks, required, now).outcome).toBe(outcome);
  });

  it("fails at the timeout when the branch's required checks were never read", () => {
    expect(decideChecks(REQUIRED, [], undefined, minutes(29)).outcome).toBe("wait");
    expect(decideChecks(REQUIRED, [status("ci/test", "pending")], undefined, minutes(30))).toEqual({
      outcome: "fail",
      log: "The branch's required checks could not be read within 30m (wait_for_checks_timeout): the build does not go ahead.",
    });
  });

  it("names failing checks with their pages, and pending ones at the timeout", () => {
    const failed = decideChecks(ALL, [run(11, "lint", "completed", "failure", 0)], undefined, minutes(1));
    expect(failed).toEqual({
      outcome: "fail",
      log: "Checks failed: the build does not go ahead.\n- lint: failure https://github.com/o/r/runs/11",
    });
    const late = decideChecks(
      ALL,
      [run(11, "e2e", "queued", null, 0), status("ci", "pending")],
      undefined,
      minutes(31),
    );
    expect(late).toMatchObject({
      outcome: "fail",
      log: expect.stringContaining("after 30m (wait_for_checks_timeout): e2e, ci."),
    });
  });
});

describe("checksUpdateOf", () => {
  const sha = "1".repeat(40);
  it("reads the real check_suite, check_run and status payloads", () => {
    expect(
      checksUpdateOf("check_suite", checkSuite("completed", { id: 5, sha, conclusion: "failure" })),
    ).toMatchObject({
      sha,
      rerun: false,
      check: { kind: "suite", key: "suite:5", status: "completed", conclusion: "failure" },
    });
    expect(checksUpdateOf("check_suite", checkSuite("rerequested", { id: 5, sha }))).toMatchObject({
      rerun: true,
      check: { status: "queued", conclusion: null },
    });
    expect(
      checksUpdateOf("check_run", checkRun("created", { id: 7, sha, name: "lint", suiteId: 5 })),
    ).toMatchObject({
      check: { kind: "run", key: "run:7", name: "lint", suiteId: 5, status: "queued" },
      suite: { key: "suite:5", status: "queued" },
    });
    expect(checksUpdateOf("status", commitStatus(sha, "ci/test", "pending", "https://ci/1"))).toMatchObject({
      check: { kind: "status", key: "status:ci/test", status: "in_progress", htmlUrl: "https://ci/1" },
    });
  });
});

describe("wait_for_checks options", () => {
  it("names each bad option", () => {
    const result = validateRepoConfig({
      wait_for_checks: "sometimes",
      wait_for_checks_timeout: "soon",
      wait_for_checks_grace: "0s",
      wait_for_checks_ignore: "envhooks/*",
    });
    const problems = result.ok ? [] : result.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^wait_for_checks: .*"none"\|"all"\|"required"/),
        expect.stringMatching(/^wait_for_checks_timeout: must be a duration of at least 1 minute/),
        expect.stringMatching(/^wait_for_checks_grace: must be a duration of at least 1 second/),
        expect.stringMatching(/^wait_for_checks_ignore: /),
      ]),
    );
  });
});
