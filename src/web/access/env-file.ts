import { chmod, readFile, rename, rm, writeFile } from "node:fs/promises";

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
export async function updateEnvFile(path: string, values: Record<string, string>): Promise<void> {
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
  const draft = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(draft, `${[...kept, ...added].join("\n")}\n`, { mode: 0o600 });
    // The mode of `writeFile` applies to a new file only, and the umask may narrow it: set it.
    await chmod(draft, 0o600);
    await rename(draft, path);
  } finally {
    await rm(draft, { force: true });
  }
}
