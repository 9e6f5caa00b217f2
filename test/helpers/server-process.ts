import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

/**
 * `node src/main.ts` as a child process: envhooks from its sources, as `npm start` runs it once built
 * (`script` and `nodeArgs` start the build instead: test/e2e/build.test.ts).
 */
export class ServerProcess {
  readonly child: ChildProcess;
  output = "";
  #port: Promise<number>;

  constructor(
    env: Record<string, string | undefined>,
    { script = MAIN, nodeArgs = [] }: { script?: string; nodeArgs?: string[] } = {},
  ) {
    this.child = spawn(process.execPath, [...nodeArgs, script], {
      env: { PATH: process.env.PATH, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#port = new Promise((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        const match = /"port":(\d+)/.exec(this.output);
        if (match) resolve(Number(match[1]));
      };
      this.child.stdout?.on("data", onData);
      this.child.stderr?.on("data", onData);
      // "close", not "exit": it comes once stdout and stderr are read to their end, so what the
      // process printed last (a V8 abort's message) is in the error, with the signal that ended it.
      this.child.once("close", (code, signal) =>
        reject(new Error(`server exited (${code ?? signal}) before listening:\n${this.output}`)),
      );
    });
    this.#port.catch(() => {});
  }

  /** Resolves with the base URL once the server answers /readyz with 200. */
  async ready(): Promise<string> {
    const url = `http://127.0.0.1:${await this.#port}`;
    for (;;) {
      const response = await fetch(`${url}/readyz`).catch(() => undefined);
      if (response?.status === 200) return url;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Resolves with the exit code (or signal). */
  async exited(): Promise<number | string> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    if (this.child.signalCode !== null) return this.child.signalCode;
    const [code, signal] = (await once(this.child, "exit")) as [number | null, string | null];
    return code ?? signal ?? -1;
  }

  async kill(signal: NodeJS.Signals): Promise<number | string> {
    this.child.kill(signal);
    return this.exited();
  }
}
