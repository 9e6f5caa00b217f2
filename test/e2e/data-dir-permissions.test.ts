import { chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO } from "../fixtures/github-events.ts";
import { ServerProcess } from "../helpers/server-process.ts";

const TOKEN = "data-dir-e2e-operator-token-0123456789";

/** Entries of the folder (itself included) other users could open: folders not 0700, files not 0600. */
function loose(dataDir: string): string[] {
  const entries = readdirSync(dataDir, { recursive: true, withFileTypes: true });
  return [dataDir, ...entries.map((entry) => join(entry.parentPath, entry.name))].flatMap((path) => {
    const stat = lstatSync(path);
    const mode = stat.mode & 0o777;
    return mode === (stat.isDirectory() ? 0o700 : 0o600) ? [] : [`${mode.toString(8)} ${path}`];
  });
}

describe("the server's embedded data folder", () => {
  let folder: string | undefined;
  const servers: ServerProcess[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) if (server.child.exitCode === null) await server.kill("SIGKILL");
    if (folder) rmSync(folder, { recursive: true, force: true });
    folder = undefined;
  });

  function start(dataDir: string) {
    const server = new ServerProcess({
      ENVHOOKS_API_TOKEN: TOKEN,
      ENVHOOKS_ALLOW_PRIVATE_URLS: "true",
      ENVHOOKS_DATA_DIR: dataDir,
    });
    servers.push(server);
    return server;
  }

  it("is created 0700 with every folder in it 0700 and every file 0600 (umask 022); opened to others, the start is refused with the chmod to run", async () => {
    folder = mkdtempSync(join(tmpdir(), "envhooks-data-e2e-"));
    const dataDir = join(folder, "data");
    const first = start(dataDir);
    const url = await first.ready();
    // Writes: an integration with an encrypted secret (and the generated secret key).
    const response = await fetch(`${url}/api/projects/${REPO}/integrations`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({
        type: "webhook",
        url: "http://127.0.0.1:9/hook",
        secret: "whsec_ZTJlLWRhdGEtZGly",
      }),
    });
    expect(response.status).toBe(201);
    expect(await first.kill("SIGTERM")).toBe(0);
    expect(readdirSync(dataDir).sort()).toEqual(["pgdata", "secret.key"]);
    expect(loose(dataDir)).toEqual([]);

    chmodSync(dataDir, 0o755);
    const refused = start(dataDir);
    expect(await refused.exited()).toBe(1);
    expect(refused.output).toContain(
      `The data folder ${resolve(dataDir)} can be opened by other users (mode 755)`,
    );
    expect(refused.output).toContain(`\`chmod -R go-rwx ${resolve(dataDir)}\``);
    expect(refused.output).not.toMatch(/\n\s+at /);

    chmodSync(dataDir, 0o700);
    await start(dataDir).ready();
  }, 180_000);
});
