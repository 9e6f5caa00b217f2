import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../helpers/test-envhooks.ts";
import { activities, buildImage, IMAGE, ROOT, ready, sendPush } from "./envhooks-container.ts";
import { podman, sh } from "./podman.ts";
import { buildStandInImages, NODE_IMAGE } from "./stand-in-images.ts";

const NAME = `envhooks-ci-${process.pid}`;
const VOLUME = `${NAME}-data`;
const WEBHOOK_SECRET = randomBytes(16).toString("hex");
const PUBLIC_URL = "https://envhooks.example.test";

const logs = (container: string) => podman(["logs", container]);

afterAll(async () => {
  for (const name of [NAME, `${NAME}-claim`]) {
    await podman(["rm", "-f", name]).catch(() => {});
    await podman(["volume", "rm", "-f", `${name}-data`]).catch(() => {});
  }
});

/** podman run as the Helm chart runs it: a read-only root, /tmp writable, no capabilities. */
const HARDENED = [
  "--read-only",
  "--tmpfs",
  "/tmp",
  "--cap-drop",
  "ALL",
  "--security-opt",
  "no-new-privileges",
];

// Steps of one run, in order; each one's time is vitest's time for it.
describe("the image", { timeout: 1_800_000 }, () => {
  let url: string;
  let token: string;
  let before: unknown[];

  it("1. stand-in base images from Debian's archive and the npm registry", async () => {
    await buildStandInImages();
  });

  it("2. builds from the Dockerfile unchanged, BASE_IMAGE overridden", async () => {
    await buildImage();
    const [image] = JSON.parse(await podman(["image", "inspect", IMAGE]));
    const { version } = JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8"));
    expect(image.Config.Labels).toMatchObject({
      "org.opencontainers.image.version": version,
      "org.opencontainers.image.source": "https://github.com/envhooks/envhooks",
    });
    expect(image.Config.User).toBe("10001:10001");
    expect(image.Config.ExposedPorts).toHaveProperty("3000/tcp");
    expect(Object.keys(image.Config.Volumes)).toEqual(["/data"]);
    expect(image.Healthcheck.Test.join(" ")).toContain("/healthz");
    // Of the layers the Dockerfile adds, the dependencies are the largest: sources change, not them.
    const base = JSON.parse(await podman(["history", "--format", "json", NODE_IMAGE])).length;
    const history: Array<{ size: number; CreatedBy: string }> = JSON.parse(
      await podman(["history", "--format", "json", IMAGE]),
    );
    const own = history.slice(0, history.length - base);
    const largest = own.reduce((a, b) => (b.size > a.size ? b : a));
    const sources = own.find((layer) => /COPY dir:/.test(layer.CreatedBy) && layer !== largest);
    expect(largest.size).toBeGreaterThan(10 * (sources?.size ?? 0));
    console.info(
      `image ${IMAGE}: ${(image.Size / 1e6).toFixed(0)} MB, dependencies layer ${(largest.size / 1e6).toFixed(0)} MB`,
    );
  });

  it("3. runs on the embedded store as a non-root user: the setup link, a signed push, its activity", async () => {
    await podman([
      "run",
      "-d",
      "--name",
      NAME,
      ...HARDENED,
      "-v",
      `${VOLUME}:/data`,
      "-p",
      "127.0.0.1::3000",
      "-e",
      `WEBHOOK_SECRET=${WEBHOOK_SECRET}`,
      "-e",
      `ENVHOOKS_PUBLIC_URL=${PUBLIC_URL}`,
      IMAGE,
    ]);
    url = await ready(NAME);
    expect((await podman(["exec", NAME, "id", "-u"])).trim()).toBe("10001");
    await podman(["healthcheck", "run", NAME]);
    // No App yet: the log shows where to register it, at the public URL.
    expect(await logs(NAME)).toMatch(new RegExp(`Open ${PUBLIC_URL}/setup\\?key=[\\w-]+ to register`));
    // The operator token generated on first start is kept on the volume, owner-only.
    expect((await podman(["exec", NAME, "stat", "-c", "%a %u", "/data/.env"])).trim()).toBe("600 10001");
    token = parseEnv(await podman(["exec", NAME, "cat", "/data/.env"])).ENVHOOKS_API_TOKEN as string;
    expect(token).toMatch(/^[0-9a-f]{64}$/);

    expect((await sendPush(url, WEBHOOK_SECRET)).status).toBe(202);
    const applied = await eventually(async () => {
      const list = await activities(url, token);
      return list.length > 0 ? list : undefined;
    }, 60_000);
    expect(applied.map((a) => a.type)).toEqual(["environment.branch"]);
  });

  it("4. podman stop ends it gracefully", async () => {
    before = await activities(url, token);
    const started = Date.now();
    await podman(["stop", "-t", "30", NAME]);
    const [state] = JSON.parse(await podman(["inspect", NAME]));
    expect(state.State.ExitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    const log = await logs(NAME);
    expect(log).toContain('"signal":"SIGTERM"');
    expect(log).toMatch(/"msg":"stopped"/);
    // The backup docs/deploy.md shows: the data folder, while stopped.
    const backup = mkdtempSync(join(tmpdir(), "envhooks-backup-"));
    try {
      await podman([
        "run",
        "--rm",
        "--user",
        "0",
        "-v",
        `${VOLUME}:/data`,
        "-v",
        `${backup}:/backup`,
        IMAGE,
        "tar",
        "-C",
        "/data",
        "-czf",
        "/backup/envhooks-data.tgz",
        ".",
      ]);
      const listing = (await sh("tar", ["-tzf", join(backup, "envhooks-data.tgz")])).split("\n");
      expect(listing).toEqual(expect.arrayContaining(["./pgdata/PG_VERSION", "./secret.key", "./.env"]));
    } finally {
      rmSync(backup, { recursive: true, force: true });
    }
  });

  it("5. keeps its data and its token across a restart (the volume)", async () => {
    await podman(["start", NAME]);
    url = await ready(NAME);
    // The same token, read back from /data/.env: nothing was set on the container but the secret.
    expect(await activities(url, token)).toEqual(before);
    await podman(["stop", "-t", "30", NAME]);
  });

  it("6. runs on a claim as Kubernetes mounts it with fsGroup (root-owned, group 10001, 2770)", async () => {
    const claim = `${NAME}-claim`;
    await podman([
      "run",
      "--rm",
      "--user",
      "0",
      "-v",
      `${claim}-data:/data`,
      IMAGE,
      "sh",
      "-c",
      "chown 0:10001 /data && chmod 2770 /data",
    ]);
    // ENVHOOKS_DATA_DIR as deploy/helm/envhooks sets it: envhooks refuses /data itself, open to the group.
    await podman([
      "run",
      "-d",
      "--name",
      claim,
      ...HARDENED,
      "-e",
      "ENVHOOKS_DATA_DIR=/data/envhooks",
      "-v",
      `${claim}-data:/data`,
      "-p",
      "127.0.0.1::3000",
      IMAGE,
    ]);
    await ready(claim);
    expect((await podman(["exec", claim, "stat", "-c", "%a", "/data/envhooks"])).trim()).toMatch(/^2?700$/);
    await podman(["stop", "-t", "30", claim]);
    const [state] = JSON.parse(await podman(["inspect", claim]));
    expect(state.State.ExitCode).toBe(0);
  });
});
