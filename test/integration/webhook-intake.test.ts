import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { sign } from "@octokit/webhooks-methods";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isPermanentFailure } from "../../src/intake/drain-project.ts";
import { HANDLED_EVENTS } from "../../src/lifecycle/github-event.ts";
import { findEvent, insertEvent } from "../../src/store/github-events.ts";
import {
  DEFAULT_BRANCH,
  pullRequest,
  pushCreatingMaster,
  pushToBranch,
  REPO,
} from "../fixtures/github-events.ts";
import { STORES, type StoreKind } from "../helpers/stores.ts";
import {
  eventually,
  startTestEnvhooks,
  type TestEnvhooks,
  WEBHOOK_SECRET,
} from "../helpers/test-envhooks.ts";

/** Every example payload of an event envhooks handles, from GitHub.com and each GitHub Enterprise Server. */
function realExamples(): Array<[string, Record<string, any>]> {
  const root = dirname(createRequire(import.meta.url).resolve("@octokit/webhooks-examples/package.json"));
  const hosts = readdirSync(root).filter((host) => host === "api.github.com" || host.startsWith("ghes-"));
  const groups = hosts.map(
    (host): Array<{ name: string; examples: Array<Record<string, any>> }> =>
      JSON.parse(readFileSync(join(root, host, "index.json"), "utf8")),
  );
  return groups.flatMap((group) =>
    group
      .filter((event) => HANDLED_EVENTS.has(event.name))
      .flatMap((event) =>
        event.examples.map((payload): [string, Record<string, any>] => [event.name, payload]),
      ),
  );
}

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
    expect((await response.json()).error.details).toMatchObject({ field: "repository" });
  });

  it.each<[string, (payload: Record<string, any>) => void, string]>([
    ["ref as an object", (p) => (p.ref = { name: "main" }), "ref"],
    ["commits as a string", (p) => (p.commits = "nope"), "commits"],
    ["after as a number", (p) => (p.after = 42), "after"],
    ["a NUL in the branch name", (p) => (p.ref = "refs/heads/a\u0000b"), "ref"],
    ["a commit without its id", (p) => delete p.commits[0].id, "commits[0].id"],
    ["a colon in the branch name (git refuses it)", (p) => (p.ref = "refs/heads/branch:pr-6"), "ref"],
    [
      "a lone surrogate in the default branch",
      (p) => (p.repository.default_branch = "ma\ud800"),
      "repository.default_branch",
    ],
  ])("a signed push with %s gets 400 naming the field, and nothing is stored", async (_, spoil, field) => {
    const payload = pushToBranch("feature");
    spoil(payload);
    const response = await envhooks.deliver("push", payload, { deliveryId: "spoilt" });
    expect(response.status).toBe(400);
    const { error } = await response.json();
    expect(error).toMatchObject({ code: "invalid_payload", details: { field } });
    expect(error.message).toContain(`${field}: `);
    expect(await storedEvents()).toBe(1);
  });

  it("a pull request labelled without its label, or numbered past PostgreSQL's integer, gets 400", async () => {
    const unlabelled = pullRequest("labeled");
    delete unlabelled.label;
    const labelled = await envhooks.deliver("pull_request", unlabelled);
    expect((await labelled.json()).error.details).toMatchObject({ field: "label" });
    const huge = pullRequest("opened");
    huge.pull_request.number = 2 ** 31;
    const numbered = await envhooks.deliver("pull_request", huge);
    expect(numbered.status).toBe(400);
    expect((await numbered.json()).error.details).toMatchObject({ field: "pull_request.number" });
    expect(await storedEvents()).toBe(1);
  });

  it("accepts every real payload of the handled events in @octokit/webhooks-examples", async () => {
    let sent = 0;
    for (const [name, payload] of realExamples()) {
      const response = await envhooks.deliver(name, payload);
      expect({ name, action: payload.action, status: response.status }).toMatchObject({ status: 202 });
      sent++;
      // Comments are stored only as envhooks commands: send each one as a command too.
      if (name !== "issue_comment" || !payload.issue.pull_request) continue;
      const command = structuredClone(payload);
      Object.assign(command, { action: "created" });
      command.comment.body = "/envhooks redeploy";
      const stored = await envhooks.deliver(name, command);
      expect(await stored.json()).toMatchObject({ status: "accepted" });
    }
    expect(sent).toBeGreaterThan(40);
  });

  it("keeps a commit message with NUL and a lone surrogate, made storable", async () => {
    const payload = pushToBranch(DEFAULT_BRANCH);
    payload.commits[0].message = "fix\u0000es \ud83d";
    payload.commits[0].author.name = "N\u0000UL";
    const response = await envhooks.deliver("push", payload, { deliveryId: "nul-message" });
    expect(response.status).toBe(202);
    const event = await eventually(async () => {
      const found = await findEvent(envhooks.store.db, "nul-message");
      return found?.state !== "pending" && found;
    });
    expect(event).toMatchObject({ state: "processed" });
    const activities = await envhooks.api(`/api/projects/${REPO}/activities`);
    const [activity] = (await activities.json()).items;
    expect(activity.payload.commits[0]).toMatchObject({ message: "fixes \ufffd", author: { name: "NUL" } });
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

  it("reads at most 4 bodies over 1 MB at once: another gets 503 with Retry-After, small ones still 202", async () => {
    const MB = 1024 * 1024;
    const unsigned = (deliveryId: string, length?: number) => ({
      "x-github-event": "push",
      "x-github-delivery": deliveryId,
      "x-hub-signature-256": "sha256=00",
      ...(length === undefined ? {} : { "content-length": String(length) }),
    });
    /** A request whose body is sent in part (2 MB of the 10 MB it announces) and then stalls. */
    function stalledPost(deliveryId: string) {
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({ start: (c) => (controller = c) });
      controller.enqueue(new Uint8Array(2 * MB).fill(0x20));
      const response = envhooks.app.request("/api/github/webhooks", {
        method: "POST",
        body,
        duplex: "half",
        headers: unsigned(deliveryId, 10 * MB),
      } as RequestInit);
      return { controller, response };
    }
    const stalled = [1, 2, 3, 4].map((n) => stalledPost(`stalled-${n}`));
    // Once the four are being read, a fifth large body is refused before it is read.
    const large = " ".repeat(2 * MB);
    const refused = await eventually(async () => {
      const response = await post(large, unsigned("fifth", Buffer.byteLength(large)));
      return response.status === 503 && response;
    }, 20_000);
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect((await refused.json()).error.code).toBe("busy");
    // Without Content-Length too: refused once it passes 1 MB.
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(2 * MB).fill(0x20));
        c.close();
      },
    });
    const unannounced = await envhooks.app.request("/api/github/webhooks", {
      method: "POST",
      body: chunked,
      duplex: "half",
      headers: unsigned("sixth"),
    } as RequestInit);
    expect(unannounced.status).toBe(503);
    // Deliveries of an ordinary size are accepted meanwhile.
    const small = await envhooks.deliver("push", pushToBranch("small"), { deliveryId: "small" });
    expect(small.status).toBe(202);

    // The stalled ones end (refused: wrong signature), and large bodies are read again.
    for (const { controller } of stalled) controller.close();
    expect((await Promise.all(stalled.map((s) => s.response))).map((r) => r.status)).toEqual([
      401, 401, 401, 401,
    ]);
    const padded = { ...pushToBranch("large"), padding: " ".repeat(2 * MB) };
    const accepted = await envhooks.deliver("push", padded, { deliveryId: "large" });
    expect(accepted.status).toBe(202);
    expect(await findEvent(envhooks.store.db, "small")).toBeDefined();
    expect(await findEvent(envhooks.store.db, "large")).toBeDefined();
    expect(await findEvent(envhooks.store.db, "fifth")).toBeUndefined();
  });

  /** A request whose body is sent in part (`sent` of the `announced` bytes) and then stalls. */
  function stalledPost(app: TestEnvhooks["app"], deliveryId: string, sent: number, announced: number) {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => (controller = c) });
    controller.enqueue(new Uint8Array(sent).fill(0x20));
    const response = app.request("/api/github/webhooks", {
      method: "POST",
      body,
      duplex: "half",
      headers: {
        "x-github-event": "push",
        "x-github-delivery": deliveryId,
        "x-hub-signature-256": "sha256=00",
        "content-length": String(announced),
      },
    } as RequestInit);
    return { controller, response };
  }

  it("bounds the unverified bytes held at once: bodies under 1 MB too get 503 past the budget", async () => {
    const MB = 1024 * 1024;
    // A budget of 3.5 MB (100 MB in production), so the test needs few bodies.
    const limited = await startTestEnvhooks(kind, {
      store: envhooks.store,
      role: "web",
      webhookLimits: { unverifiedBytes: 3.5 * MB },
    });
    try {
      // Three bodies just under 1 MB each, being read (and held) at once.
      const stalled = [1, 2, 3].map((n) => stalledPost(limited.app, `under-${n}`, MB - 100, MB - 1));
      const justUnder = " ".repeat(MB - 1);
      const refused = await eventually(async () => {
        const response = await limited.app.request("/api/github/webhooks", {
          method: "POST",
          body: justUnder,
          headers: {
            "x-github-event": "push",
            "x-github-delivery": "fourth",
            "x-hub-signature-256": "sha256=00",
          },
        });
        return response.status === 503 && response;
      }, 20_000);
      expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
      expect((await refused.json()).error.code).toBe("busy");
      // A delivery of an ordinary size still fits.
      const small = await limited.deliver("push", pushToBranch("small"), { deliveryId: "small" });
      expect(small.status).toBe(202);
      // Once the stalled bodies end (refused: wrong signature), their bytes are given back.
      for (const { controller } of stalled) controller.close();
      expect((await Promise.all(stalled.map((s) => s.response))).map((r) => r.status)).toEqual([
        401, 401, 401,
      ]);
      const padded = { ...pushToBranch("padded"), padding: " ".repeat(MB - 10_000) };
      expect((await limited.deliver("push", padded, { deliveryId: "padded" })).status).toBe(202);
      expect(await findEvent(envhooks.store.db, "small")).toBeDefined();
      expect(await findEvent(envhooks.store.db, "padded")).toBeDefined();
    } finally {
      await limited.close();
    }
  });

  it("cuts off a body that takes longer than the read deadline with 408, and frees its place", async () => {
    const MB = 1024 * 1024;
    const limited = await startTestEnvhooks(kind, {
      store: envhooks.store,
      role: "web",
      webhookLimits: { readTimeoutMs: 1000 },
    });
    const timers: NodeJS.Timeout[] = [];
    try {
      // Four large bodies (all the large places) trickling a byte every 100 ms, never ending.
      const trickles = [1, 2, 3, 4].map((n) => {
        const post = stalledPost(limited.app, `trickle-${n}`, 2 * MB, 25 * MB);
        timers.push(
          setInterval(() => {
            try {
              post.controller.enqueue(new Uint8Array(1).fill(0x20));
            } catch {
              // Cancelled: envhooks stopped reading it.
            }
          }, 100),
        );
        return post.response;
      });
      const answers = await Promise.all(trickles);
      expect(answers.map((r) => r.status)).toEqual([408, 408, 408, 408]);
      expect(await Promise.all(answers.map(async (r) => (await r.json()).error.code))).toContain(
        "request_timeout",
      );
      // Their places are free again: a real large delivery is read and accepted.
      const padded = { ...pushToBranch("large"), padding: " ".repeat(2 * MB) };
      expect((await limited.deliver("push", padded, { deliveryId: "large" })).status).toBe(202);
      expect(await findEvent(envhooks.store.db, "large")).toBeDefined();
    } finally {
      for (const timer of timers) clearInterval(timer);
      await limited.close();
    }
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

describe.each(STORES)("a stored delivery that cannot be applied, on $name", (kind) => {
  let envhooks: TestEnvhooks;
  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    // A retry would come after the test gave up: only setting it aside at once lets the next one through.
    envhooks = await startTestEnvhooks(kind, { retryDelaySeconds: 600 });
  });
  afterEach(() => envhooks?.close());

  it.each([
    ["of the wrong shape", JSON.stringify({ ...pushToBranch("x"), ref: { name: "x" } }), "ref: "],
    ["that is not JSON", '{"ref": "refs/heads/x",', "JSON"],
  ])(
    "one %s, stored before intake checked payloads, is set aside at once and holds nothing back",
    async (_, payload, reason) => {
      // Stored as an older envhooks would have, bypassing the route's checks.
      const projectKey = REPO.toLowerCase();
      await insertEvent(envhooks.store.db, {
        deliveryId: "bad",
        name: "push",
        action: null,
        projectKey,
        payload,
      });
      expect((await envhooks.deliver("push", pushCreatingMaster(), { deliveryId: "next" })).status).toBe(202);

      const next = await eventually(async () => {
        const event = await findEvent(envhooks.store.db, "next");
        return event?.state === "processed" && event;
      });
      expect(next.attempts).toBe(0);
      const bad = await findEvent(envhooks.store.db, "bad");
      expect(bad).toMatchObject({ state: "failed", attempts: 1 });
      expect(bad?.lastError).toContain(reason);
    },
  );

  it("counts PostgreSQL refusing the data as permanent, and a lost connection or network failure not", async () => {
    const refused = await envhooks.store.db.query("SELECT $1::jsonb", ['"\\u0000"']).catch((error) => error);
    expect(refused).toBeInstanceOf(Error);
    expect(isPermanentFailure(refused)).toBe(true);
    expect(isPermanentFailure(new AggregateError([refused], "from Probot"))).toBe(true);
    const unreadable = (() => {
      try {
        (undefined as unknown as { x: string }).x.startsWith("y");
      } catch (error) {
        return error;
      }
    })();
    expect(isPermanentFailure(unreadable)).toBe(true);
    expect(isPermanentFailure(Object.assign(new Error("Connection terminated"), { code: "57P01" }))).toBe(
      false,
    );
    expect(isPermanentFailure(new TypeError("fetch failed", { cause: new Error("ECONNRESET") }))).toBe(false);
    expect(isPermanentFailure(new AggregateError([refused, new Error("GitHub 502")], "mixed"))).toBe(false);
  });
});
