import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { describe, expect, it } from "vitest";
import { STORES, type StoreKind } from "../helpers/stores.ts";
import { API_TOKEN, startTestEnvhooks } from "../helpers/test-envhooks.ts";

/**
 * Token sign-in over a real connection from 127.0.0.1 (as a pod calling the Service, or podman's
 * port forwarding, would be): whether its X-Forwarded-For decides the address throttled.
 */
async function withServer(trustedProxies: string[], run: (url: string) => Promise<void>) {
  const envhooks = await startTestEnvhooks(STORES[0] as StoreKind, { trustedProxies });
  const server = await new Promise<ServerType>((resolve) => {
    const started = serve({ fetch: envhooks.app.fetch, port: 0, hostname: "127.0.0.1" }, () =>
      resolve(started),
    );
  });
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await envhooks.close();
  }
}

/** The login form, then its POST with `token`, claiming to come from `forwarded`. */
async function signIn(url: string, token: string, forwarded: string): Promise<number> {
  const headers = { "x-forwarded-for": forwarded };
  const page = await fetch(`${url}/login`, { headers });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
  const cookie = page.headers
    .getSetCookie()
    .map((line) => line.split(";")[0])
    .join("; ");
  const response = await fetch(`${url}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { ...headers, cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf, token }).toString(),
  });
  return response.status;
}

describe("the address token sign-in is throttled by, over a real connection", () => {
  it("is the peer's when it is not a listed proxy: rotating X-Forwarded-For escapes nothing, naming another address locks it out of nothing", async () => {
    await withServer([], async (url) => {
      for (let n = 0; n < 10; n++) {
        expect(await signIn(url, `ehk_guess${n}-${crypto.randomUUID()}`, `198.51.100.${n + 1}`)).toBe(401);
      }
      // Another "address" in the header is the same client.
      expect(await signIn(url, `ehk_more-${crypto.randomUUID()}`, "198.51.100.99")).toBe(429);
    });
  });

  it("is X-Forwarded-For's when the peer is listed in ENVHOOKS_TRUSTED_PROXIES", async () => {
    await withServer(["127.0.0.1"], async (url) => {
      for (let n = 0; n < 10; n++) {
        expect(await signIn(url, `ehk_guess${n}-${crypto.randomUUID()}`, "203.0.113.7")).toBe(401);
      }
      expect(await signIn(url, `ehk_more-${crypto.randomUUID()}`, "203.0.113.7")).toBe(429);
      // Someone else behind the same proxy signs in.
      expect(await signIn(url, API_TOKEN, "203.0.113.8")).toBe(303);
    });
  });
});
