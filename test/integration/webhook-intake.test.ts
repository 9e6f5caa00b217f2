import { sign } from "@octokit/webhooks-methods";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findEvent } from "../../src/store/github-events.ts";
import { pushCreatingMaster, pushToBranch } from "../fixtures/github-events.ts";
import { STORES, type StoreKind } from "../helpers/stores.ts";
import {
  eventually,
  startTestEnvhooks,
  type TestEnvhooks,
  WEBHOOK_SECRET,
} from "../helpers/test-envhooks.ts";

describe.each(STORES)("webhook intake refuses bad input and loses nothing on $name", (kind) => {
  let envhooks: TestEnvhooks;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
    // Something accepted before the bad input arrives: it must survive all of it.
    expect((await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "kept" })).status).toBe(202);
  });
  afterEach(async () => {
    if (!envhooks) return;
    // What was accepted is still there and gets applied.
    const kept = await eventually(async () => {
      const event = await findEvent(envhooks.store.db, "kept");
      return event?.state === "processed" ? event : undefined;
    });
    expect(kept.state).toBe("processed");
    await envhooks.close();
  });

  async function storedEvents(): Promise<number> {
    const { rows } = await envhooks.store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM github_events",
    );
    return rows[0]?.n ?? -1;
  }

  function post(body: string, headers: Record<string, string>) {
    return envhooks.app.request("/api/github/webhooks", { method: "POST", body, headers });
  }

  it("a wrong signature gets 401 with a JSON error, nothing is stored and the payload is not logged", async () => {
    const payload = { ...pushToBranch("secret-branch"), marker: "do-not-log-this-payload" };
    const response = await envhooks.deliver("push", payload, {
      secret: "not-the-secret",
      deliveryId: "forged",
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: {
        code: "signature_mismatch",
        message: expect.stringContaining("X-Hub-Signature-256"),
        details: null,
      },
    });
    expect(await storedEvents()).toBe(1);
    expect(envhooks.logs.join("")).not.toContain("do-not-log-this-payload");
    expect(envhooks.logs.join("")).toContain("forged");
  });

  it("a missing signature gets 401", async () => {
    const response = await post(JSON.stringify(pushToBranch("x")), {
      "x-github-event": "push",
      "x-github-delivery": "nosig",
    });
    expect(response.status).toBe(401);
    expect((await response.json()).error.code).toBe("signature_missing");
    expect(await storedEvents()).toBe(1);
  });

  it("malformed JSON, correctly signed, gets 400", async () => {
    const body = '{"ref": "refs/heads/main",';
    const response = await post(body, {
      "x-github-event": "push",
      "x-github-delivery": "broken",
      "x-hub-signature-256": await sign(WEBHOOK_SECRET, body),
    });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toMatchObject({ code: "invalid_json" });
    expect(await storedEvents()).toBe(1);
  });

  it("a payload without its repository gets 400 naming the field", async () => {
    const response = await envhooks.deliver("push", { ref: "refs/heads/main" }, { deliveryId: "norepo" });
    expect(response.status).toBe(400);
    expect((await response.json()).error.details).toEqual({ field: "repository.full_name" });
  });

  it.each([
    ["x-github-event", "X-GitHub-Event"],
    ["x-github-delivery", "X-GitHub-Delivery"],
  ])("a missing %s header gets 400 naming it", async (header, named) => {
    const body = JSON.stringify(pushToBranch("x"));
    const headers: Record<string, string> = {
      "x-github-event": "push",
      "x-github-delivery": "headers",
      "x-hub-signature-256": await sign(WEBHOOK_SECRET, body),
    };
    delete headers[header];
    const response = await post(body, headers);
    expect(response.status).toBe(400);
    expect((await response.json()).error.message).toContain(named);
    expect(await storedEvents()).toBe(1);
  });

  it("a body over GitHub's 25 MB cap gets 413", async () => {
    const body = JSON.stringify({ padding: "x".repeat(25 * 1024 * 1024) });
    const response = await post(body, {
      "x-github-event": "push",
      "x-github-delivery": "huge",
      "x-hub-signature-256": "sha256=00",
      "content-length": String(Buffer.byteLength(body)),
    });
    expect(response.status).toBe(413);
    expect((await response.json()).error.code).toBe("payload_too_large");
    expect(await storedEvents()).toBe(1);
  });

  it("an event envhooks does not handle gets 202 and is not stored", async () => {
    const response = await envhooks.deliver("issues", { action: "opened", repository: { full_name: "a/b" } });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ status: "ignored" });
    expect(await storedEvents()).toBe(1);
  });
});

describe("webhook intake without WEBHOOK_SECRET", () => {
  it("answers 503 saying what to set", async () => {
    const envhooks = await startTestEnvhooks(STORES[0] as StoreKind, { webhookSecret: null });
    try {
      const app = envhooks.app;
      const response = await app.request("/api/github/webhooks", {
        method: "POST",
        body: "{}",
        headers: { "x-github-event": "push", "x-github-delivery": "1", "x-hub-signature-256": "sha256=00" },
      });
      expect(response.status).toBe(503);
      expect((await response.json()).error.message).toContain("WEBHOOK_SECRET");
    } finally {
      await envhooks.close();
    }
  });
});

describe("webhook metrics", () => {
  /** The label sets of envhooks_github_events_received_total in a scrape. */
  async function eventSeries(envhooks: TestEnvhooks): Promise<string[]> {
    const text = await (await envhooks.app.request("/metrics")).text();
    return text
      .split("\n")
      .filter((line) => line.startsWith("envhooks_github_events_received_total{"))
      .map((line) => line.slice(0, line.lastIndexOf(" ")))
      .sort();
  }

  it("labels no series from a request whose signature was not checked, nor from events envhooks ignores", async () => {
    const envhooks = await startTestEnvhooks(STORES[0] as StoreKind);
    try {
      const before = await eventSeries(envhooks);
      const body = JSON.stringify(pushToBranch("x"));
      for (let i = 0; i < 50; i++) {
        const event = `random-${Math.random().toString(36).slice(2)}`;
        const headers: Record<string, string> = { "x-github-event": event, "x-github-delivery": `u${i}` };
        // Unsigned, then wrongly signed: neither is checked as coming from GitHub.
        if (i % 2) headers["x-hub-signature-256"] = await sign("not-the-secret", body);
        const response = await envhooks.app.request("/api/github/webhooks", {
          method: "POST",
          body,
          headers,
        });
        expect(response.status).toBe(401);
      }
      expect(await eventSeries(envhooks)).toEqual(before);
      expect(before.join("\n")).not.toContain("random-");

      // Signed: an event envhooks handles is labelled by its name, any other as `other`.
      expect((await envhooks.deliver("push", pushCreatingMaster())).status).toBe(202);
      expect((await envhooks.deliver("star", { action: "created", repository: {} })).status).toBe(202);
      const after = await eventSeries(envhooks);
      expect(after).toContain('envhooks_github_events_received_total{event="push",outcome="accepted"}');
      expect(after).toContain('envhooks_github_events_received_total{event="other",outcome="ignored"}');
      expect(after.join("\n")).not.toContain("star");
    } finally {
      await envhooks.close();
    }
  });
});
