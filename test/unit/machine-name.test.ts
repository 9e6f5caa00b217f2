import { describe, expect, it } from "vitest";
import { machineName } from "../../src/lifecycle/machine-name.ts";

describe("machine names", () => {
  it.each([
    ["main", "main"],
    ["feature/Login_v2", "feature-login-v2"],
    ["--weird--", "weird"],
    ["Ünïcödé branch", "unicode-branch"],
    ["???", "env"],
    ["pr-12", "pr-12"],
  ])("%s → %s", (name, expected) => {
    expect(machineName(name)).toBe(expected);
  });

  it("is a DNS label of at most 63 characters", () => {
    const name = machineName(`feature/${"x".repeat(100)}`);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  });

  it("stays unique within the project, the same way every time", () => {
    const taken = new Set(["feature-a"]);
    const first = machineName("feature_a", taken);
    expect(first).not.toBe("feature-a");
    expect(first).toMatch(/^feature-a-[0-9a-f]{6}$/);
    expect(machineName("feature_a", taken)).toBe(first);
    const long = `${"y".repeat(70)}`;
    const clash = machineName(`${long}!`, new Set([machineName(long)]));
    expect(clash.length).toBeLessThanOrEqual(63);
    expect(clash).not.toBe(machineName(long));
  });
});
