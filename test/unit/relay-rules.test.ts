import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import type { Activity } from "../../src/activity/activity.ts";
import { formatDelivery } from "../../src/relay/dialects/format-delivery.ts";
import { globMatches, matchesIntegration } from "../../src/relay/match-integration.ts";
import { nextRetryDelayMs, parseRetryAfter } from "../../src/relay/retry-schedule.ts";
import { sampleActivity } from "../../src/relay/sample-activity.ts";
import { createSender } from "../../src/relay/send-delivery.ts";
import { signDelivery } from "../../src/relay/sign-delivery.ts";
import { isPublicAddress } from "../../src/relay/ssrf-guard.ts";

const failed = (activity: Activity): Activity => ({
  ...activity,
  result: "failure",
  log: "Building application\nE: npm ci failed",
});

describe("filters", () => {
  it.each([
    ["*", "environment.push", true],
    ["environment.*", "environment.push", true],
    ["environment.*", "integration.github.config", false],
    ["feature/*", "feature/a/b", true],
    ["pr-?", "pr-1", true],
    ["pr-?", "pr-12", false],
    ["release.v1", "releaseXv1", false],
  ])("%s matches %s: %s", (pattern, value, expected) => {
    expect(globMatches(pattern, value)).toBe(expected);
  });

  const filters = {
    events: ["*"],
    states: ["complete" as const],
    environments: ["*"],
    excluded_environments: [],
  };
  const activity = sampleActivity("acme/shop");
  it("matches on type, state and environment, exclusions winning", () => {
    expect(matchesIntegration(filters, activity)).toBe(true);
    expect(matchesIntegration({ ...filters, states: ["pending"] }, activity)).toBe(false);
    expect(matchesIntegration({ ...filters, events: ["environment.delete"] }, activity)).toBe(false);
    expect(
      matchesIntegration({ ...filters, environments: ["main"], excluded_environments: ["ma*"] }, activity),
    ).toBe(false);
    expect(
      matchesIntegration({ ...filters, environments: ["feature/*"] }, { ...activity, environments: [] }),
    ).toBe(false);
  });
});

describe("dialects on a failure and before completion", () => {
  const activity = sampleActivity("acme/shop");
  it("dockership keeps the previous revision and lists the error", () => {
    expect(formatDelivery("dockership", failed(activity), { sequence: 1 })?.body).toEqual({
      previous_revision: activity.parameters.old_commit,
      current_revision: activity.parameters.old_commit,
      project: "acme/shop",
      environment: "main",
      errors: ["E: npm ci failed"],
    });
    expect(
      formatDelivery("dockership", { ...activity, state: "in_progress" }, { sequence: 1 }),
    ).toBeUndefined();
  });

  it("kudu maps states to its statuses", () => {
    const status = (a: Activity) =>
      (formatDelivery("kudu", a, { sequence: 1 })?.body as { status: string } | undefined)?.status;
    expect(status({ ...activity, state: "pending" })).toBe("pending");
    expect(status({ ...activity, state: "in_progress" })).toBe("building");
    expect(status(activity)).toBe("success");
    expect(status(failed(activity))).toBe("failed");
  });

  it("divshot sends releases only, shipway only finished builds", () => {
    expect(formatDelivery("divshot", failed(activity), { sequence: 1 })).toBeUndefined();
    expect(
      formatDelivery("divshot", { ...activity, type: "environment.delete" }, { sequence: 1 }),
    ).toBeUndefined();
    const build = formatDelivery("shipway", failed(activity), { sequence: 7 })?.body as {
      build: Record<string, unknown>;
    };
    expect(build.build).toMatchObject({ build_num: 7, exit_code: 1, status: "failed" });
  });
});

describe("retry schedule", () => {
  const schedule = [5, 300, 1800, 7200, 18000];
  it("waits the scheduled time with ±20 % jitter, and stops when it is exhausted", () => {
    expect(nextRetryDelayMs(1, schedule, { random: () => 0 })).toBe(4000);
    expect(nextRetryDelayMs(1, schedule, { random: () => 1 })).toBe(6000);
    expect(nextRetryDelayMs(2, schedule, { random: () => 0.5 })).toBe(300_000);
    expect(nextRetryDelayMs(6, schedule)).toBeUndefined();
  });

  it("lets Retry-After replace the wait, within 1 s and 1 h", () => {
    expect(nextRetryDelayMs(1, schedule, { retryAfterMs: 30_000 })).toBe(30_000);
    expect(nextRetryDelayMs(1, schedule, { retryAfterMs: 0 })).toBe(1000);
    expect(nextRetryDelayMs(1, schedule, { retryAfterMs: 86_400_000 })).toBe(3_600_000);
    expect(parseRetryAfter("120", 0)).toBe(120_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
  });
});

describe("signatures", () => {
  it("verify with the standardwebhooks library for whsec_ and raw secrets", () => {
    const body = JSON.stringify({ hello: "wörld" });
    const whsec = `whsec_${Buffer.from("0123456789abcdef0123").toString("base64")}`;
    const headers = signDelivery({
      deliveryId: "msg_1",
      event: "e",
      body,
      timestamp: Math.floor(Date.now() / 1000),
      secret: whsec,
      previousSecret: null,
      shipway: false,
    });
    expect(new Webhook(whsec).verify(body, headers)).toEqual({ hello: "wörld" });

    const raw = "a plain shared secret";
    const rawHeaders = signDelivery({
      deliveryId: "msg_2",
      event: "e",
      body,
      timestamp: Math.floor(Date.now() / 1000),
      secret: raw,
      previousSecret: null,
      shipway: false,
    });
    expect(new Webhook(raw, { format: "raw" }).verify(body, rawHeaders)).toEqual({ hello: "wörld" });
    expect(() => new Webhook(whsec).verify(`${body} `, headers)).toThrow();
  });

  it("carry no signature headers without a secret", () => {
    const headers = signDelivery({
      deliveryId: "msg_3",
      event: "e",
      body: "{}",
      timestamp: 1,
      secret: null,
      previousSecret: null,
      shipway: true,
    });
    expect(Object.keys(headers).sort()).toEqual([
      "webhook-id",
      "webhook-timestamp",
      "x-envhooks-delivery",
      "x-envhooks-event",
      "x-shipway-delivery",
      "x-shipway-event",
    ]);
  });
});

describe("SSRF guard", () => {
  it.each([
    ["127.0.0.1", false],
    ["10.0.0.1", false],
    ["172.16.5.4", false],
    ["192.168.1.1", false],
    ["169.254.169.254", false],
    ["100.64.1.1", false],
    ["0.0.0.0", false],
    ["::1", false],
    ["fe80::1", false],
    ["fc00::1", false],
    ["::ffff:127.0.0.1", false],
    ["::ffff:10.0.0.1", false],
    ["8.8.8.8", true],
    ["2606:4700:4700::1111", true],
    ["::ffff:8.8.8.8", true],
  ])("%s is public: %s", (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });

  it("refuses at send time a host name that resolves to 127.0.0.1, and an address literal", async () => {
    let hits = 0;
    const server = createServer((_request, response) => {
      hits++;
      response.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const guarded = createSender({ allowPrivateUrls: false });
    const open = createSender({ allowPrivateUrls: true });
    try {
      for (const url of [
        `http://localhost:${port}/`,
        `http://127.0.0.1:${port}/`,
        `http://[::ffff:127.0.0.1]:${port}/`,
      ]) {
        const result = await guarded.send({ url, headers: {}, body: "{}", timeoutMs: 2000 });
        expect(result.ok, url).toBe(false);
        expect(result.error).toMatch(/^refused: .*not a public address/);
      }
      expect(hits).toBe(0);
      expect(
        (await open.send({ url: `http://localhost:${port}/`, headers: {}, body: "{}", timeoutMs: 2000 })).ok,
      ).toBe(true);
      expect(hits).toBe(1);
    } finally {
      await guarded.close();
      await open.close();
      server.close();
    }
  });
});
