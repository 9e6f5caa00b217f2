import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from "jose";

/**
 * A local OpenID Connect issuer in GitHub Actions' shape: its keys at `/.well-known/jwks`, and
 * tokens with a run's claims (`repository`, `run_id`, `ref`), signed RS256.
 */
export class OidcIssuer {
  #server: Server | undefined;
  #privateKey: CryptoKey | undefined;
  #keys: unknown[] = [];
  /** How many times the keys were fetched. */
  jwksRequests = 0;

  async start(): Promise<this> {
    const { publicKey, privateKey } = await generateKeyPair("RS256");
    this.#privateKey = privateKey;
    this.#keys = [{ ...(await exportJWK(publicKey)), kid: "test-key", alg: "RS256", use: "sig" }];
    this.#server = createServer((request, response) => {
      if (request.url !== "/.well-known/jwks") return response.writeHead(404).end();
      this.jwksRequests++;
      response
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ keys: this.#keys }));
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, "127.0.0.1", resolve));
    return this;
  }

  get url(): string {
    const address = this.#server?.address() as AddressInfo | undefined;
    return `http://127.0.0.1:${address?.port}`;
  }

  /** A token for a run; `expiresInSeconds` below 0 makes an expired one; `signWith` another key. */
  async token(
    claims: { repository: string; run_id: string; ref: string },
    options: { audience: string; expiresInSeconds?: number; signWith?: CryptoKey },
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const expires = now + (options.expiresInSeconds ?? 300);
    const key = options.signWith ?? this.#privateKey;
    if (!key) throw new Error("start the issuer first");
    return new SignJWT({ ...claims, repository_owner: claims.repository.split("/")[0] })
      .setProtectedHeader({ alg: "RS256", kid: "test-key" })
      .setIssuer(this.url)
      .setAudience(options.audience)
      .setSubject(`repo:${claims.repository}:ref:${claims.ref}`)
      .setIssuedAt(Math.min(now, expires - 60))
      .setNotBefore(Math.min(now, expires - 60))
      .setExpirationTime(expires)
      .sign(key);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}
