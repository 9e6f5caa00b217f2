import { link, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { newSecretKey, parseSecretKey } from "./secret-box.ts";

/** The embedded store's generated key, beside its database. */
export const SECRET_KEY_FILE = "secret.key";

/**
 * The keys of the embedded store: ENVHOOKS_SECRET_KEY's, then the key file in its data folder,
 * which is generated on first start when no key is set. Once a key is set, the file's key still
 * decrypts what it encrypted, until start-up has encrypted it again with the new one.
 */
export async function embeddedStoreKeys(dataDir: string, keys: Buffer[]): Promise<Buffer[]> {
  const own = await readSecretKeyFile(dataDir, { create: keys.length === 0 });
  return own && !keys.some((key) => key.equals(own)) ? [...keys, own] : keys;
}

/**
 * Reads the data folder's key file; with `create`, writes a new key first when there is none,
 * readable by its owner only. The file is written whole, then linked into place: a crash never
 * leaves half a key, and of two processes racing, one key wins.
 */
export async function readSecretKeyFile(
  dataDir: string,
  { create }: { create: boolean },
): Promise<Buffer | undefined> {
  const path = join(dataDir, SECRET_KEY_FILE);
  if (create) {
    const draft = `${path}.${process.pid}.tmp`;
    try {
      await writeFile(draft, `${newSecretKey()}\n`, { mode: 0o600 });
      await link(draft, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      await rm(draft, { force: true });
    }
  }
  let text: string;
  try {
    text = (await readFile(path, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    return parseSecretKey(text);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}
