import { describe, expect, it } from "vitest";
import { readSettings } from "../../src/config/env.schema.ts";

const DAY_MS = 86_400_000;

describe("ENVHOOKS_RETENTION and ENVHOOKS_ACTIVITY_RETENTION", () => {
  it("default to 30 days and a year, and take the ms package's durations", () => {
    expect(readSettings({}).retention).toEqual({ storedMs: 30 * DAY_MS, activitiesMs: 365.25 * DAY_MS });
    expect(readSettings({ ENVHOOKS_RETENTION: "", ENVHOOKS_ACTIVITY_RETENTION: " " }).retention).toEqual(
      readSettings({}).retention,
    );
    expect(readSettings({ ENVHOOKS_RETENTION: "7d", ENVHOOKS_ACTIVITY_RETENTION: "12w" }).retention).toEqual({
      storedMs: 7 * DAY_MS,
      activitiesMs: 84 * DAY_MS,
    });
  });

  it("refuse what is not a duration of a day or more, naming the variable", () => {
    // A bare number is milliseconds for `ms`: 30 would purge everything at once.
    expect(() => readSettings({ ENVHOOKS_RETENTION: "30" })).toThrow(
      /ENVHOOKS_RETENTION: must be a duration of a day or more, such as 30d/,
    );
    expect(() => readSettings({ ENVHOOKS_RETENTION: "12h" })).toThrow(/ENVHOOKS_RETENTION/);
    expect(() => readSettings({ ENVHOOKS_ACTIVITY_RETENTION: "forever" })).toThrow(
      /ENVHOOKS_ACTIVITY_RETENTION/,
    );
  });
});
