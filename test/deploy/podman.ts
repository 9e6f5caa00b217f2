import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Downloads and tool binaries test:deploy keeps between runs (node_modules/.cache is never committed). */
export const CACHE_DIR = new URL("../../node_modules/.cache/envhooks-deploy/", import.meta.url).pathname;

/**
 * This machine's podman needs runc (crun rejects its cgroup layout) and ulimits the kernel allows
 * even to root: podman's defaults ask for more and every container fails to start.
 */
const CONTAINERS_CONF = `[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
`;

/** The environment podman and podman-compose run with. */
export function podmanEnv(): NodeJS.ProcessEnv {
  mkdirSync(CACHE_DIR, { recursive: true });
  const conf = join(CACHE_DIR, "containers.conf");
  writeFileSync(conf, CONTAINERS_CONF);
  return { ...process.env, CONTAINERS_CONF: conf };
}

/** Runs a command (podman by default) and resolves with its stdout; rejects with its output on failure. */
export async function sh(
  command: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<string> {
  try {
    const { stdout } = await run(command, args, {
      env: { ...podmanEnv(), ...options.env },
      cwd: options.cwd,
      timeout: options.timeoutMs ?? 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed: ${(error as Error).message}\n${stdout}\n${stderr}`);
  }
}

export const podman = (args: string[], options?: { cwd?: string; timeoutMs?: number }) =>
  sh("podman", args, options);

/** True when the image exists locally. */
export async function imageExists(name: string): Promise<boolean> {
  return podman(["image", "exists", name]).then(
    () => true,
    () => false,
  );
}
