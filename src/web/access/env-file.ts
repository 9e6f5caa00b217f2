import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { parseEnv } from "node:util";

/** A value as a `.env` line holds it: plain when it can be, else double-quoted with `\n` for newlines. */
export function envValue(value: string): string {
  if (/^[\w.:/+=@,-]*$/.test(value)) return value;
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r?\n/g, "\\n")}"`;
}

/**
 * Sets variables in a `.env` file, as Probot's setup does (`npm start` reads it with Node's
 * `--env-file-if-exists`): a line already setting a variable is replaced, others are added at the
 * end, every other line is kept. The file is written whole and renamed into place, readable and
 * writable by its owner only (mode 600: it holds the App's private key and secrets).
 */
export function updateEnvFile(path: string, values: Record<string, string>): Promise<void> {
  // One write at a time (in this process): each reads what the one before wrote, none is lost.
  const run = writes.then(() => writeEnvFile(path, values));
  writes = run.catch(() => {});
  return run;
}

/** The writes of updateEnvFile, one after the other. */
let writes: Promise<void> = Promise.resolve();

async function writeEnvFile(path: string, values: Record<string, string>): Promise<void> {
  let text = "";
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const pending = new Map(Object.entries(values));
  const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n");
  const kept = lines.map((line) => {
    const name = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
    if (!name || !pending.has(name)) return line;
    const value = pending.get(name) as string;
    pending.delete(name);
    return `${name}=${envValue(value)}`;
  });
  const added = [...pending].map(([name, value]) => `${name}=${envValue(value)}`);
  if (added.length > 0 && kept.length > 0) added.unshift("", "# Written by envhooks' setup (/setup).");
  // A name of its own, made by this write only ("wx" fails rather than reuse a file).
  const draft = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const file = await open(draft, "wx", 0o600);
    try {
      await file.writeFile(`${[...kept, ...added].join("\n")}\n`);
      // The umask may narrow the mode given to `open`: set it.
      await file.chmod(0o600);
      // On disk before it replaces the file: a crash leaves the old file or the new, whole.
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(draft, path);
  } finally {
    await rm(draft, { force: true });
  }
}

/** Whether the `.env` file sets the variable to this value (a missing or unreadable file does not). */
export async function envFileHolds(path: string, name: string, value: string): Promise<boolean> {
  try {
    return parseEnv(await readFile(path, "utf8"))[name] === value;
  } catch {
    return false;
  }
}
