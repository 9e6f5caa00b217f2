import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseEnv } from "node:util";

/** A failure the user can act on: printed on stderr, exit code 1 (2 for usage errors). */
export class CliError extends Error {
  readonly exitCode: 1 | 2;
  constructor(message: string, exitCode: 1 | 2 = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

export interface Connection {
  url: string;
  token: string | undefined;
}

/** Talks to a running envhooks server's API. */
export function apiClient({ url, token }: Connection) {
  return async function api<T = unknown>(
    path: string,
    init: { method?: string; body?: unknown } = {},
  ): Promise<T> {
    if (!token) {
      throw new CliError(
        "No API token: set ENVHOOKS_TOKEN or ENVHOOKS_API_TOKEN (or pass --token) to the server's " +
          "ENVHOOKS_API_TOKEN, run envhooks in the folder whose .env the server reads, or `envhooks login`.",
        2,
      );
    }
    let response: Response;
    try {
      response = await fetch(new URL(path, url), {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
    } catch (error) {
      throw new CliError(
        `Cannot reach envhooks at ${url} (${(error as Error).cause ?? (error as Error).message}). ` +
          "Is it running? Set ENVHOOKS_URL or pass --url.",
      );
    }
    const text = await response.text();
    const body = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) {
      const message = (body as { error?: { message?: string } } | undefined)?.error?.message;
      throw new CliError(`${response.status}: ${message ?? (text || response.statusText)}`);
    }
    return body as T;
  };
}

export type Api = ReturnType<typeof apiClient>;

/** `owner/repo` from `--project`, or from the current git checkout's `origin` on GitHub. */
export function resolveProject(option: string | undefined): string {
  if (option) {
    if (!/^[^/\s]+\/[^/\s]+$/.test(option))
      throw new CliError(`--project must be owner/repo, not "${option}".`, 2);
    return option;
  }
  let remote = "";
  try {
    remote = execFileSync("git", ["remote", "get-url", "origin"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    // Not a git checkout, or no origin.
  }
  const match = /github\.com[:/]([^/\s]+)\/([^/\s]+?)(?:\.git)?\s*$/.exec(remote);
  if (!match)
    throw new CliError("Which project? Pass --project owner/repo (no GitHub origin found here).", 2);
  return `${match[1]}/${match[2]}`;
}

/** Where a connection's URL and token may come from, strongest first (see resolveConnection). */
export interface ConnectionSource {
  url?: string | undefined;
  token?: string | undefined;
}

export const DEFAULT_URL = "http://localhost:3000";

/**
 * The `.env` file the server reads, as `npm start` does: `.env` in the working folder, or the file
 * ENVHOOKS_ENV_FILE names (where /setup writes). Missing or unreadable: no variables.
 */
export function readServerEnvFile(
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): { path: string; vars: Record<string, string> } {
  const path = resolve(cwd, env.ENVHOOKS_ENV_FILE || ".env");
  try {
    return { path, vars: parseEnv(readFileSync(path, "utf8")) as Record<string, string> };
  } catch {
    return { path, vars: {} };
  }
}

/** What the server's `.env` says about reaching it: its token, and ENVHOOKS_URL or its PORT. */
export function envFileSource(vars: Record<string, string>): ConnectionSource {
  return {
    token: vars.ENVHOOKS_TOKEN || vars.ENVHOOKS_API_TOKEN || undefined,
    url: vars.ENVHOOKS_URL || (vars.PORT ? `http://localhost:${vars.PORT}` : undefined),
  };
}

/**
 * The server and token, from (strongest first) flags and environment variables, the server's `.env`
 * in the working folder, then what `envhooks login` saved. The URL goes with the token: a token read
 * from the `.env` is that server's, so it is not sent to a server `envhooks login` saved.
 */
export function resolveConnection(
  explicit: ConnectionSource,
  file: ConnectionSource,
  saved: ConnectionSource,
): Connection {
  const token = explicit.token ?? file.token ?? saved.token;
  let url: string | undefined;
  if (explicit.url) url = explicit.url;
  else if (!explicit.token && file.token) url = file.url;
  else if (!explicit.token && saved.token) url = saved.url;
  else url = file.url ?? saved.url;
  return { url: url ?? DEFAULT_URL, token };
}

/** Where `envhooks login` keeps the server and token: `$XDG_CONFIG_HOME/envhooks/config.json`. */
export function configPath(): string {
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), ".config"), "envhooks", "config.json");
}

export function readConfig(): Partial<Connection> {
  try {
    return JSON.parse(readFileSync(configPath(), "utf8")) as Partial<Connection>;
  } catch {
    return {};
  }
}

/** Saves the connection for later commands, readable by this user only (it holds a token). */
export function writeConfig(connection: Connection): string {
  const path = configPath();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(connection, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}
