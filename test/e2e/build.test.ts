import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { build, RUNTIME_FLAGS, toJavaScript } from "../../scripts/build.ts";
import { REPO } from "../fixtures/github-events.ts";
import { Receiver } from "../helpers/receiver.ts";
import { sendPush } from "../helpers/send-push.ts";
import { ServerProcess } from "../helpers/server-process.ts";
import { eventually } from "../helpers/test-envhooks.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SECRET = "build-test-secret";
const TOKEN = "build-test-token-0123456789abcdef0123456789";

describe("toJavaScript: a module as Node would run it", () => {
  const source = [
    'import { type Lane, open } from "./store/open.ts";',
    'import type { Options } from "../options.ts";',
    'import { parse } from "yaml";',
    'const worker = new Worker(new URL("./parse.worker.ts", import.meta.url));',
    "const limit: number = 3; // see `src/limits.ts`",
    'const name = "report.ts";',
    "export function go(lane: Lane, options?: Options): void {}",
  ].join("\n");
  const js = toJavaScript(source);

  it("names .js files where a relative specifier named .ts ones: imports and workers' URLs", () => {
    expect(js).toContain('from "./store/open.js";');
    expect(js).toContain('new URL("./parse.worker.js", import.meta.url)');
    expect(js).not.toMatch(/\.\.?\/[^"]*\.ts"/);
  });

  it("leaves package names, plain strings and comments alone, and every line where it was", () => {
    expect(js).toContain('from "yaml"');
    expect(js).toContain('const name = "report.ts";');
    expect(js).toContain("see `src/limits.ts`");
    expect(js).not.toContain("Options");
    expect(js).not.toContain(": number");
    const lines = js.split("\n");
    expect(lines).toHaveLength(7);
    expect(lines[6]?.indexOf("function go")).toBe(source.split("\n")[6]?.indexOf("function go"));
  });
});

describe("npm start and the image", () => {
  it("run dist/main.js with the same Node flags", () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(scripts.prestart).toBe("npm run build --silent");
    expect(scripts.start).toBe(`node --env-file-if-exists=.env ${RUNTIME_FLAGS.join(" ")} dist/main.js`);
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(ROOT, "Dockerfile"), "utf8"))?.[1] ?? "[]";
    expect(JSON.parse(cmd)).toEqual([
      "node",
      "--env-file-if-exists=/data/.env",
      ...RUNTIME_FLAGS,
      "dist/main.js",
    ]);
  });
});

describe("the build, started as npm start starts it", { timeout: 120_000 }, () => {
  let folder: string | undefined;
  let server: ServerProcess | undefined;
  let receiver: Receiver | undefined;
  afterEach(async () => {
    if (server?.child.exitCode === null) await server.kill("SIGKILL");
    await receiver?.stop();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it("serves on the embedded store without TypeScript: a signed push, its activity at a receiver", async () => {
    const { modules, copied } = build();
    const migrations = readdirSync(join(ROOT, "src/store/migrations")).length;
    expect(modules).toBeGreaterThan(100);
    expect(copied).toBeGreaterThanOrEqual(migrations);
    expect(readdirSync(join(ROOT, "dist/store/migrations"))).toHaveLength(migrations);
    folder = mkdtempSync(join(tmpdir(), "envhooks-build-"));
    receiver = await new Receiver().start();
    // Without type stripping, any .ts module the build left for a thread to import fails its start.
    server = new ServerProcess(
      {
        WEBHOOK_SECRET: SECRET,
        ENVHOOKS_API_TOKEN: TOKEN,
        ENVHOOKS_DATA_DIR: join(folder, "data"),
        ENVHOOKS_ALLOW_PRIVATE_URLS: "true",
      },
      { script: join(ROOT, "dist/main.js"), nodeArgs: ["--no-experimental-strip-types", ...RUNTIME_FLAGS] },
    );
    const url = await server.ready();
    const created = await fetch(`${url}/api/projects/${REPO}/integrations`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "webhook", url: receiver.url }),
    });
    expect(created.status).toBe(201);
    const response = await sendPush(url, SECRET);
    expect(response.status).toBe(202);
    const [delivery] = await eventually(async () =>
      receiver?.received.length ? receiver.received : undefined,
    );
    expect(JSON.parse(delivery?.body ?? "{}").type).toBe("environment.branch");
    expect(await server.kill("SIGTERM")).toBe(0);
  });
});
