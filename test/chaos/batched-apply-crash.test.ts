import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ServerProcess } from "../helpers/server-process.ts";
import { createTestDatabase, STORES } from "../helpers/stores.ts";
import { api, burst, SECRET, signedPushes, TOKEN } from "./chaos-kit.ts";

const servers: ServerProcess[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill("SIGKILL");
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A repository's inbox, oldest first: its deliveries in the order they were received, and their states. */
async function inbox(url: string, repo: string): Promise<InboxItem[]> {
  const response = await api(url, `/api/projects/${repo}/github-events?limit=100`);
  if (response.status === 404) return [];
  const { items } = (await response.json()) as { items: InboxItem[] };
  return items.reverse();
}

interface InboxItem {
  delivery_id: string;
  state: string;
  processed_at: string | null;
}

/** The GitHub delivery each of a repository's activities came from, oldest activity first. */
async function activitySources(url: string, repo: string): Promise<string[]> {
  const response = await api(url, `/api/projects/${repo}/activities?limit=100`);
  const { items } = (await response.json()) as { items: Array<{ github: { delivery_id: string } }> };
  return items.map((activity) => activity.github.delivery_id).reverse();
}

describe.each(STORES)("batched apply across a crash on $name", (kind) => {
  it("kill -9 while a burst is applied in batches: after the restart every accepted event is applied once, in each repository's order", async ({
    skip,
  }) => {
    if (kind.skip) skip(kind.skip);
    let env: Record<string, string>;
    if (kind.name === "postgres") {
      const database = await createTestDatabase();
      cleanups.push(() => database.drop());
      env = { DATABASE_URL: database.url };
    } else {
      const folder = mkdtempSync(join(tmpdir(), "envhooks-batch-chaos-"));
      cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
      env = { ENVHOOKS_DATA_DIR: join(folder, "data") };
    }
    const start = () => {
      const server = new ServerProcess({
        WEBHOOK_SECRET: SECRET,
        ENVHOOKS_API_TOKEN: TOKEN,
        ENVHOOKS_ALLOW_PRIVATE_URLS: "true",
        ...env,
      });
      servers.push(server);
      return server;
    };
    // Few repositories, many events each: every drain finds a run of pending events to batch.
    const repos = Array.from({ length: 6 }, (_, n) => `batch/repo-${n}`);
    const deliveries = await signedPushes(repos, 480, "batch");

    const first = start();
    const url = await first.ready();
    let acknowledged = 0;
    let killed: Promise<unknown> | undefined;
    const before = await burst(deliveries, () => url, {
      concurrency: 24,
      onAnswer(status) {
        if (status === 202 && ++acknowledged === 240) killed = first.kill("SIGKILL");
      },
    });
    expect(await killed).toBe("SIGKILL");
    const unanswered = deliveries.filter((delivery) => before.get(delivery.id) !== 202);
    expect(unanswered.length).toBeGreaterThan(0);

    // GitHub's redelivery of what got no answer: 202, or 200 for what was stored before the kill.
    const second = start();
    const again = await second.ready();
    const after = await burst(unanswered, () => again);
    expect([...after.values()].every((status) => status === 202 || status === 200)).toBe(true);

    const deadline = Date.now() + 180_000;
    /** Events marked processed by one transaction share its time: how many went together. */
    const together = new Map<string, number>();
    for (const repo of repos) {
      const sent = deliveries.filter((delivery) => delivery.repo === repo).map((delivery) => delivery.id);
      let events = await inbox(again, repo);
      while (events.some((event) => event.state === "pending") && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        events = await inbox(again, repo);
      }
      // Every delivery is in the inbox once, applied; its activities follow the inbox's order exactly.
      expect(events.map((event) => event.delivery_id).sort()).toEqual([...sent].sort());
      expect(events.filter((event) => event.state !== "processed")).toEqual([]);
      expect(await activitySources(again, repo)).toEqual(events.map((event) => event.delivery_id));
      for (const { processed_at } of events) {
        const key = `${repo} ${processed_at}`;
        together.set(key, (together.get(key) ?? 0) + 1);
      }
    }
    const largest = Math.max(...together.values());
    console.log(
      `[chaos] ${kind.name}: largest batch ${largest}, ${together.size} transactions for 480 events`,
    );
    // The burst was applied in batches, not one event at a time.
    expect(largest).toBeGreaterThan(1);
    expect(await second.kill("SIGTERM")).toBe(0);
    // A busy machine takes most of a minute for each first start of the embedded database.
  }, 400_000);
});
