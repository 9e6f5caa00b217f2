import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { REPO } from "../fixtures/github-events.ts";
import { STORES } from "../helpers/stores.ts";
import { startTestEnvhooks, type TestEnvhooks } from "../helpers/test-envhooks.ts";

const base = `/api/projects/${REPO}/integrations`;

describe.each(STORES)("integration names on $name", { timeout: 60_000 }, (kind) => {
  let envhooks: TestEnvhooks;

  beforeEach(async ({ skip }) => {
    if (kind.skip) skip(kind.skip);
    envhooks = await startTestEnvhooks(kind);
  });
  afterEach(async () => {
    await envhooks?.close();
  });

  async function json(response: Response) {
    return (await response.json()) as Record<string, any>;
  }

  it("keeps a name, shows `type → host` without one, changes and clears it, for project and owner-wide integrations", async () => {
    const named = await envhooks.api(base, {
      body: { type: "webhook", url: "https://deploy.example.com/hook", name: "  Staging deploys " },
    });
    expect(named.status).toBe(201);
    const first = await json(named);
    expect(first).toMatchObject({ name: "Staging deploys", display_name: "Staging deploys" });

    const plain = await json(
      await envhooks.api(base, { body: { type: "slack", url: "https://hooks.slack.com/services/T/B/x" } }),
    );
    expect(plain).toMatchObject({ name: null, display_name: "slack → hooks.slack.com" });

    // Listed with it, and changed, then cleared back to the default.
    const list = (await json(await envhooks.api(base))) as unknown as Array<Record<string, any>>;
    expect(list.map((integration) => integration.display_name)).toEqual([
      "Staging deploys",
      "slack → hooks.slack.com",
    ]);
    const renamed = await envhooks.api(`${base}/${plain.id}`, {
      method: "PATCH",
      body: { name: "Team chat" },
    });
    expect(renamed.status).toBe(200);
    expect(await json(renamed)).toMatchObject({ name: "Team chat", display_name: "Team chat" });
    const cleared = await envhooks.api(`${base}/${first.id}`, { method: "PATCH", body: { name: null } });
    expect(await json(cleared)).toMatchObject({ name: null, display_name: "webhook → deploy.example.com" });
    expect(await json(await envhooks.api(`${base}/${plain.id}`))).toMatchObject({ name: "Team chat" });

    // Owner-wide integrations have one too.
    const owner = await envhooks.api("/api/owners/Codertocat/integrations", {
      body: { type: "webhook", url: "https://all.example.com/", name: "Every repository" },
    });
    expect(owner.status).toBe(201);
    expect(await json(owner)).toMatchObject({ name: "Every repository", display_name: "Every repository" });
  });

  it("refuses an empty, long or control-character name, naming the field, and changes nothing", async () => {
    const created = await json(
      await envhooks.api(base, {
        body: { type: "webhook", url: "https://deploy.example.com/", name: "Kept" },
      }),
    );
    for (const name of ["   ", "x".repeat(101), "two\nlines"]) {
      const response = await envhooks.api(base, {
        body: { type: "webhook", url: "https://deploy.example.com/", name },
      });
      expect(response.status, JSON.stringify(name)).toBe(400);
      const { error } = await json(response);
      expect(error.message).toMatch(/name/);
      expect(error.details.fields.map((field: { field: string }) => field.field)).toContain("name");
      const patch = await envhooks.api(`${base}/${created.id}`, { method: "PATCH", body: { name } });
      expect(patch.status).toBe(400);
    }
    const list = (await json(await envhooks.api(base))) as unknown as Array<Record<string, any>>;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ name: "Kept" });
  });
});
