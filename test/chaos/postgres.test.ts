import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, expect, it } from "vitest";
import { Receiver } from "../helpers/receiver.ts";
import { ServerProcess } from "../helpers/server-process.ts";
import { createTestDatabase, STORES } from "../helpers/stores.ts";
import { account, burst, post, receivedEach, SECRET, signedPushes, subscribe, TOKEN } from "./chaos-kit.ts";

const postgres = STORES.find((kind) => kind.name === "postgres");
const servers: ServerProcess[] = [];
const receivers: Receiver[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill("SIGKILL");
  for (const receiver of receivers.splice(0)) await receiver.stop();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function start(env: Record<string, string>) {
  const server = new ServerProcess({
    WEBHOOK_SECRET: SECRET,
    ENVHOOKS_API_TOKEN: TOKEN,
    ENVHOOKS_ALLOW_PRIVATE_URLS: "true",
    ...env,
  });
  servers.push(server);
  return server;
}

async function receiversOf(count: number) {
  for (let n = 0; n < count; n++) receivers.push(await new Receiver().start());
  return receivers.slice(-count);
}

it("two instances on one PostgreSQL, one killed mid-burst: nothing lost, nothing sent twice at once", async ({
  skip,
}) => {
  if (postgres?.skip) skip(postgres.skip);
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  const env = { DATABASE_URL: database.url };
  const first = start(env);
  const firstUrl = await first.ready();
  const secondUrl = await start(env).ready();
  const hooks = await receiversOf(3);
  const repos = Array.from({ length: 10 }, (_, n) => `chaos/shared-${n}`);
  await subscribe(firstUrl, repos, hooks);
  const deliveries = await signedPushes(repos, 600, "two");

  // A load balancer alternating between them; the first is killed after 200 acknowledgements.
  let acknowledged = 0;
  let killed: Promise<unknown> | undefined;
  const sent = await burst(deliveries, (n) => (n % 2 === 0 || killed ? secondUrl : firstUrl), {
    onAnswer(status) {
      if (status === 202 && ++acknowledged === 200) killed = first.kill("SIGKILL");
    },
  });
  expect(await killed).toBe("SIGKILL");
  // What the killed instance did not answer, GitHub redelivers; the load balancer sends it to the survivor.
  const unanswered = deliveries.filter((delivery) => sent.get(delivery.id) !== 202);
  const resent = await burst(unanswered, () => secondUrl);
  expect([...resent.values()].every((status) => status === 202 || status === 200)).toBe(true);

  // The killed instance's leases run out (30 s) and the survivor's sweep takes its work over.
  await receivedEach(
    hooks,
    deliveries.map((delivery) => delivery.id),
    90_000,
  );
  await sleep(1000);
  const result = account(
    hooks,
    deliveries.map((delivery) => delivery.id),
  );
  console.log(
    `[chaos] two instances: ${unanswered.length} resent after the kill; ${result.received} of ` +
      `${result.expected} deliveries received, ${result.duplicates} duplicates, ${result.concurrent} concurrent`,
  );
  expect(result.missing).toEqual([]);
  expect(result.concurrent).toBe(0);
  expect(result.differentIds).toBe(0);
}, 180_000);

/** A PostgreSQL server of this test's own, so that restarting it disturbs nothing else. */
async function privatePostgres(): Promise<{ url: string; stop(): void; start(): void } | string> {
  const versions = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").sort() : [];
  const bin = versions.length > 0 ? join("/usr/lib/postgresql", versions.at(-1) as string, "bin") : "";
  if (!bin || !existsSync(join(bin, "initdb")))
    return "PostgreSQL's server programs (initdb, pg_ctl) are not installed";
  const folder = mkdtempSync(join(tmpdir(), "envhooks-pg-"));
  chmodSync(folder, 0o755);
  const port = await freePort();
  // PostgreSQL refuses to run as root: as root, run it as the postgres user.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    chownSync(folder, uid, gid);
  }
  const run = (program: string, args: string[]) =>
    asRoot
      ? execFileSync("runuser", ["-u", "postgres", "--", join(bin, program), ...args], { stdio: "pipe" })
      : execFileSync(join(bin, program), args, { stdio: "pipe" });
  const data = join(folder, "data");
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const pgCtl = (action: string) =>
    run("pg_ctl", [
      "-D",
      data,
      "-l",
      join(folder, "log"),
      "-w",
      "-o",
      `-p ${port} -k ${folder} -c listen_addresses=127.0.0.1 -c fsync=on`,
      action,
      ...(action === "stop" ? ["-m", "fast"] : []),
    ]);
  pgCtl("start");
  cleanups.push(() => {
    try {
      pgCtl("stop");
    } catch {
      // stopped already
    }
    rmSync(folder, { recursive: true, force: true });
  });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => pgCtl("stop"),
    start: () => pgCtl("start"),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

it("PostgreSQL restarted mid-burst: 503 while it is down, nothing acknowledged lost, back on its own", async ({
  skip,
}) => {
  if (postgres?.skip) skip(postgres.skip);
  const cluster = await privatePostgres();
  if (typeof cluster === "string") return skip(cluster);
  const server = start({ DATABASE_URL: cluster.url });
  const url = await server.ready();
  const hooks = await receiversOf(2);
  const repos = Array.from({ length: 5 }, (_, n) => `chaos/restart-${n}`);
  await subscribe(url, repos, hooks);
  const deliveries = await signedPushes(repos, 300, "restart");

  // 50 events per second for 6 s; the database goes down after 2 s for 2 s.
  const statuses = new Map<string, number>();
  const outage = (async () => {
    await sleep(2000);
    cluster.stop();
    await sleep(2000);
    cluster.start();
  })();
  const begin = Date.now();
  await Promise.all(
    deliveries.map(async (delivery, n) => {
      await sleep(Math.max(0, begin + n * 20 - Date.now()));
      statuses.set(delivery.id, await post(url, delivery));
    }),
  );
  await outage;
  const counts = Map.groupBy(statuses.values(), (status) => status);
  console.log(
    `[chaos] database restart: ${[...counts].map(([status, list]) => `${list.length} answered ${status}`).join(", ")}`,
  );
  if (counts.has(0))
    console.log(
      server.output
        .split("\n")
        .filter((line) => !line.includes("GitHub delivery received"))
        .slice(-30)
        .join("\n"),
    );
  expect([...counts.keys()].every((status) => status === 202 || status === 503)).toBe(true);
  expect(counts.get(503)?.length ?? 0).toBeGreaterThan(0);

  // GitHub redelivers the 503s once the database is back.
  for (const delivery of deliveries.filter((d) => statuses.get(d.id) === 503)) {
    expect([202, 200]).toContain(await post(url, delivery));
  }
  // Counted by delivery, not by request: copies sent again after the outage are no substitute.
  await receivedEach(
    hooks,
    deliveries.map((delivery) => delivery.id),
    90_000,
  );
  const result = account(
    hooks,
    deliveries.map((delivery) => delivery.id),
  );
  console.log(
    `[chaos] database restart: ${result.received} of ${result.expected} received, ${result.duplicates} duplicates`,
  );
  expect(result.missing).toEqual([]);
  expect(result.differentIds).toBe(0);
  expect((await fetch(`${url}/readyz`)).status).toBe(200);
  expect(await server.kill("SIGTERM")).toBe(0);
}, 180_000);
