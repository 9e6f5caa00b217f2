import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readSettings } from "../../src/config/env.schema.ts";
import { maskSentHeaders, maskUrlCredentials } from "../../src/relay/mask-secrets.ts";
import {
  createSecretBox,
  keyId,
  newSecretKey,
  parseSecretKey,
  SecretKeyError,
} from "../../src/store/secret-box.ts";
import { embeddedStoreKeys, SECRET_KEY_FILE } from "../../src/store/secret-key-file.ts";

const A = Buffer.alloc(32, "a");
const B = Buffer.alloc(32, "b");

describe("secret box", () => {
  it("encrypts with the first key, naming it, and a fresh IV each time", () => {
    const box = createSecretBox([A, B]);
    const sealed = box.seal("whsec_secret");
    expect(sealed).toMatch(new RegExp(`^enc:v1:${keyId(A)}:[\\w-]{16}:[\\w-]{22}:[\\w-]+$`));
    expect(sealed).not.toContain("whsec_secret");
    expect(box.seal("whsec_secret")).not.toBe(sealed);
    expect(box.open(sealed)).toBe("whsec_secret");
    expect(box.seal("")).not.toBe("");
    expect(box.open(box.seal(""))).toBe("");
  });

  it("decrypts with any key it holds; stale means plain or encrypted with another key than the first", () => {
    const old = createSecretBox([B]).seal("token");
    const rotating = createSecretBox([A, B]);
    expect(rotating.open(old)).toBe("token");
    expect(rotating.isStale(old)).toBe(true);
    expect(rotating.isStale(rotating.seal("token"))).toBe(false);
    expect(rotating.isStale("plain")).toBe(true);
    expect(createSecretBox([]).isStale("plain")).toBe(false);
  });

  it("reads values stored before encryption as they are", () => {
    expect(createSecretBox([A]).open("https://hooks.example.com/x")).toBe("https://hooks.example.com/x");
    expect(createSecretBox([]).seal("kept plain")).toBe("kept plain");
  });

  it("says which key is missing, and refuses a value that was altered", () => {
    const sealed = createSecretBox([B]).seal("token");
    expect(() => createSecretBox([A]).open(sealed)).toThrow(SecretKeyError);
    expect(() => createSecretBox([A]).open(sealed)).toThrow(
      `encrypted with key ${keyId(B)}, which ENVHOOKS_SECRET_KEY does not hold (it holds ${keyId(A)})`,
    );
    expect(() => createSecretBox([]).open(sealed)).toThrow("(it is not set)");
    // The tag's first character: all its bits count.
    const parts = sealed.split(":");
    parts[4] = (parts[4]?.startsWith("A") ? "B" : "A") + parts[4]?.slice(1);
    const altered = parts.join(":");
    expect(() => createSecretBox([B]).open(altered)).toThrow(/does not decrypt: it was altered/);
  });

  it("takes keys of 32 bytes in base64 or hex, and says how to make one otherwise", () => {
    const key = newSecretKey();
    expect(parseSecretKey(key)).toHaveLength(32);
    expect(parseSecretKey(A.toString("hex")).equals(A)).toBe(true);
    for (const bad of ["short", Buffer.alloc(16).toString("base64"), `${key.slice(0, -2)}!=`]) {
      expect(() => parseSecretKey(bad)).toThrow("openssl rand -base64 32");
    }
  });

  it("ENVHOOKS_SECRET_KEY lists keys, the encrypting one first; a bad one is named without its value", () => {
    const settings = readSettings({ ENVHOOKS_SECRET_KEY: `${A.toString("base64")}, ${B.toString("hex")}` });
    expect(settings.secretKeys.map((key) => keyId(key))).toEqual([keyId(A), keyId(B)]);
    expect(readSettings({}).secretKeys).toEqual([]);
    expect(() => readSettings({ ENVHOOKS_SECRET_KEY: `${A.toString("base64")},not-a-key` })).toThrow(
      /ENVHOOKS_SECRET_KEY: key 2 must be 32 random bytes .*openssl rand -base64 32/,
    );
  });
});

describe("embedded store's key file", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("is generated on first start, readable by its owner only, and read again afterwards", async () => {
    dir = mkdtempSync(join(tmpdir(), "envhooks-key-"));
    const [first] = await embeddedStoreKeys(dir, []);
    const path = join(dir, SECRET_KEY_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(first?.equals(parseSecretKey(readFileSync(path, "utf8").trim()))).toBe(true);
    expect((await embeddedStoreKeys(dir, []))[0]?.equals(first as Buffer)).toBe(true);
    // ENVHOOKS_SECRET_KEY set: it encrypts; the file's key still decrypts what it encrypted.
    expect(await embeddedStoreKeys(dir, [A])).toEqual([A, first]);
  });

  it("is not created when ENVHOOKS_SECRET_KEY is set, and a damaged one is named", async () => {
    dir = mkdtempSync(join(tmpdir(), "envhooks-key-"));
    expect(await embeddedStoreKeys(dir, [A])).toEqual([A]);
    writeFileSync(join(dir, SECRET_KEY_FILE), "garbage\n");
    await expect(embeddedStoreKeys(dir, [])).rejects.toThrow(
      `${join(dir, SECRET_KEY_FILE)}: must be 32 random bytes`,
    );
  });
});

describe("masking", () => {
  it("masks user info and query parameters that suggest a credential", () => {
    expect(
      maskUrlCredentials(
        "https://user:pw@example.com/hook?api_key=1&token=2&sig=3&access_token=4&code=5&page=2",
      ),
    ).toBe(
      "https://********:********@example.com/hook?api_key=********&token=********&sig=********&access_token=********&code=********&page=2",
    );
    expect(maskUrlCredentials("https://example.com/hook?key=1&Password=2&region=eu")).toBe(
      "https://example.com/hook?key=********&Password=********&region=eu",
    );
    expect(maskUrlCredentials("https://example.com/hook")).toBe("https://example.com/hook");
    expect(maskUrlCredentials("not a url")).toBe("********");
  });

  it("stores only envhooks' own header values", () => {
    expect(
      maskSentHeaders({
        "content-type": "application/json",
        "user-agent": "Envhooks-Hookshot/1.0.0",
        "x-envhooks-delivery": "msg_1",
        "webhook-signature": "v1,abc",
        authorization: "Bearer secret",
        "X-Team": "blue",
      }),
    ).toEqual({
      "content-type": "application/json",
      "user-agent": "Envhooks-Hookshot/1.0.0",
      "x-envhooks-delivery": "msg_1",
      "webhook-signature": "v1,abc",
      authorization: "********",
      "X-Team": "********",
    });
  });
});
