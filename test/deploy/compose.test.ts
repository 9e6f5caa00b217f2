import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO } from "../fixtures/github-events.ts";
import { Receiver } from "../helpers/receiver.ts";
import { eventually } from "../helpers/test-envhooks.ts";
import { activities, buildImage, ROOT, sendPush } from "./envhooks-container.ts";
import { podman, sh } from "./podman.ts";
import { buildStandInImages } from "./stand-in-images.ts";

const PROJECT = `envhooks-ci-${process.pid}`;
const WEBHOOK_SECRET = randomBytes(16).toString("hex");
const TOKEN = randomBytes(32).toString("hex");
const PASSWORD = randomBytes(16).toString("hex");

let folder: string;
let port: number;
const compose = (...args: string[]) =>
  sh("podman-compose", ["-p", PROJECT, ...args], {
    cwd: folder,
    env: { ENVHOOKS_PORT: String(port) },
    timeoutMs: 600_000,
  });

/** The project's containers by service, running or not. */
async function containers(): Promise<
  Array<{ Names: string[]; State: string; Labels: Record<string, string> }>
> {
  return JSON.parse(
    await podman(["ps", "-a", "--format", "json", "--filter", `label=io.podman.compose.project=${PROJECT}`]),
  );
}

/**
 * podman-compose 1.0.3's `down -v` removes the named volumes but not the anonymous ones the image's
 * VOLUME gives web and workers (docker compose's does): remove the containers with theirs first.
 */
async function down(...files: string[]): Promise<void> {
  for (const container of await containers()) await podman(["rm", "-f", "-v", String(container.Names[0])]);
  await compose(...files, "down", "-v");
}

/** An example file with the given lines set (commented out or not in the example). */
function fillIn(example: string, values: Record<string, string>): string {
  let text = readFileSync(join(ROOT, "deploy/compose", example), "utf8");
  for (const [name, value] of Object.entries(values)) {
    const line = new RegExp(`^(# ?)?${name}=.*$`, "m");
    expect(text, `${example} shows ${name}`).toMatch(line);
    text = text.replace(line, `${name}=${value}`);
  }
  return text;
}

beforeAll(async () => {
  // compose.yaml as shipped, beside Compose's .env (PostgreSQL's password only) and envhooks.env
  // (envhooks' secrets), each filled in from the example next to it.
  folder = mkdtempSync(join(tmpdir(), "envhooks-compose-"));
  copyFileSync(join(ROOT, "deploy/compose/compose.yaml"), join(folder, "compose.yaml"));
  writeFileSync(join(folder, ".env"), fillIn("compose.env.example", { POSTGRES_PASSWORD: PASSWORD }));
  const text = fillIn("envhooks.env.example", {
    ENVHOOKS_PUBLIC_URL: "https://envhooks.example.test",
    ENVHOOKS_API_TOKEN: TOKEN,
    ENVHOOKS_SECRET_KEY: randomBytes(32).toString("base64"),
    WEBHOOK_SECRET,
  });
  // The receiver runs on the host, a private address.
  writeFileSync(join(folder, "envhooks.env"), `${text}\nENVHOOKS_ALLOW_PRIVATE_URLS=true\n`);
  port = await freePort();
});

describe("Compose's example files", () => {
  it("set no variable blank: an empty one counts as set and would hide /data/.env's", () => {
    for (const example of ["envhooks.env.example", "compose.env.example"]) {
      const text = readFileSync(join(ROOT, "deploy/compose", example), "utf8");
      const blank = text.split("\n").filter((line) => /^[A-Z_]+=\s*$/.test(line));
      expect([example, blank]).toEqual([example, []]);
    }
  });

  it("keep the database's password out of envhooks.env, which PostgreSQL does not read", () => {
    const envhooks = readFileSync(join(ROOT, "deploy/compose/envhooks.env.example"), "utf8");
    expect(envhooks).not.toMatch(/^(POSTGRES_PASSWORD|DATABASE_URL)=/m);
    const compose = readFileSync(join(ROOT, "deploy/compose/compose.yaml"), "utf8");
    const postgres = compose.slice(compose.indexOf("  postgres:"), compose.indexOf("  web:"));
    expect(postgres).not.toContain("env_file");
  });
});

afterAll(async () => {
  if (!folder) return;
  await down().catch(() => {});
  await down("-f", "compose.embedded.yaml").catch(() => {});
  rmSync(folder, { recursive: true, force: true });
});

describe("Compose on PostgreSQL", { timeout: 600_000 }, () => {
  let url: string;

  it("0. the images it uses: the stand-ins, and envhooks built from these sources", async () => {
    await buildStandInImages();
    // Always built: an image left by an earlier run holds older sources (podman's layer cache
    // makes an unchanged build a matter of seconds).
    await buildImage();
  });

  it("1. podman-compose up: PostgreSQL, web and two workers", async () => {
    await compose("up", "-d");
    url = `http://127.0.0.1:${port}`;
    // web exits while PostgreSQL is still starting (podman-compose does not wait for the
    // healthcheck), and its restart policy brings it back.
    await eventually(async () => (await fetch(`${url}/readyz`)).status === 200, 240_000);
    const workers = await eventually(async () => {
      const list = (await containers()).filter(
        (c) => c.Labels["com.docker.compose.service"] === "worker" && c.State === "running",
      );
      return list.length === 2 ? list : undefined;
    }, 120_000);
    // Both workers are up and serving their probes.
    for (const worker of workers) {
      await eventually(
        async () => /"role":"worker"/.test(await podman(["logs", String(worker.Names[0])])),
        180_000,
      );
    }
  });

  it("2. an event sent to web is delivered exactly once, through two workers", async () => {
    const receiver = await new Receiver({ host: "0.0.0.0" }).start();
    try {
      const created = await fetch(`${url}/api/projects/${REPO}/integrations`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({
          type: "webhook",
          url: `http://host.containers.internal:${receiver.port}/hook`,
        }),
      });
      expect(created.status).toBe(201);
      expect((await sendPush(url, WEBHOOK_SECRET)).status).toBe(202);
      await eventually(async () => receiver.received.length > 0, 120_000);
      // Time for a second worker to send it again, if it were going to.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      expect(receiver.bodies().map((body) => body.type)).toEqual(["environment.branch"]);
      expect((await activities(url, TOKEN)).map((a) => a.type)).toEqual(["environment.branch"]);
      // The backup docs/deploy.md shows, while envhooks runs.
      const dump = await podman([
        "exec",
        `${PROJECT}_postgres_1`,
        "pg_dump",
        "-U",
        "envhooks",
        "-Fc",
        "envhooks",
      ]);
      expect(dump.startsWith("PGDMP")).toBe(true);
      // PostgreSQL gets its password and nothing of envhooks' secrets.
      const [postgres] = JSON.parse(await podman(["inspect", `${PROJECT}_postgres_1`]));
      const names = (postgres.Config.Env as string[]).map((entry) => entry.slice(0, entry.indexOf("=")));
      expect(names).toContain("POSTGRES_PASSWORD");
      expect(
        names.filter((name) => /^(ENVHOOKS_|WEBHOOK_|APP_ID|PRIVATE_KEY|DATABASE_URL)/.test(name)),
      ).toEqual([]);
    } finally {
      await receiver.stop();
    }
  });

  it("3. podman-compose down stops every container cleanly", async () => {
    await compose("stop");
    const states = await containers();
    expect(states.length).toBe(4);
    for (const container of states) {
      const [inspected] = JSON.parse(await podman(["inspect", String(container.Names[0])]));
      expect([container.Names[0], inspected.State.ExitCode]).toEqual([container.Names[0], 0]);
    }
    await down();
  });

  it("4. compose.embedded.yaml: one container and a volume", async () => {
    copyFileSync(join(ROOT, "deploy/compose/compose.embedded.yaml"), join(folder, "compose.embedded.yaml"));
    const embedded = (...args: string[]) => compose("-f", "compose.embedded.yaml", ...args);
    try {
      await embedded("up", "-d");
      await eventually(async () => (await fetch(`${url}/readyz`)).status === 200, 240_000);
      const [container] = await containers();
      expect(container?.Labels["com.docker.compose.service"]).toBe("envhooks");
      expect(await podman(["logs", String(container?.Names[0])])).toContain(
        `Open http://localhost:3000/setup?key=`,
      );
    } finally {
      await down("-f", "compose.embedded.yaml");
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
