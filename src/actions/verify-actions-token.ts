import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import { z } from "zod";
import { HttpError } from "../http/http-error.ts";

/** The run a GitHub Actions OIDC token was issued to, from its claims. */
export interface ActionsRunClaims {
  /** `owner/repo`. */
  repository: string;
  runId: number;
  /** `refs/heads/<branch>`. */
  ref: string;
}

declare module "hono" {
  interface ContextVariableMap {
    /** Set when the request was authenticated by a GitHub Actions OIDC token. */
    actionsRun: ActionsRunClaims;
  }
}

/** GitHub's OIDC issuer: github.com's, or a GitHub Enterprise Server's (`GHE_HOST`). */
export function actionsOidcIssuer(gheWebUrl: string | undefined): string {
  return gheWebUrl ? `${gheWebUrl}/_services/token` : "https://token.actions.githubusercontent.com";
}

const claimsSchema = z.object({
  repository: z.string().regex(/^[^/]+\/[^/]+$/),
  run_id: z.string().regex(/^\d{1,16}$/),
  ref: z.string().min(1),
});

/** A token's shape: three base64url parts, the first a JSON header (`eyJ`). */
const JWT = /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/;

/**
 * Authenticates a workflow's progress report by its GitHub Actions OIDC token (`id-token: write`,
 * audience = envhooks' public URL): verified against the issuer's JWKS (fetched once and cached by
 * jose, fetched again for an unknown key id), with its issuer, audience, expiry and RS256 checked.
 * A bearer token that is not a JWT goes on to the API token check. The route checks the claims
 * against the activity's run. https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
 */
export function acceptActionsToken({
  issuer,
  audience,
}: {
  issuer: string;
  audience: string;
}): MiddlewareHandler {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks`), {
    cacheMaxAge: 10 * 60_000,
    cooldownDuration: 30_000,
    timeoutDuration: 5_000,
  });
  return async function actionsToken(c, next) {
    const given = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (!given || !JWT.test(given)) return next();
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(given, jwks, { issuer, audience, algorithms: ["RS256"] }));
    } catch (error) {
      if (error instanceof errors.JWKSTimeout) {
        throw new HttpError(
          503,
          "oidc_unavailable",
          `GitHub's OIDC keys (${issuer}) did not come in time. Retry.`,
        );
      }
      if (error instanceof errors.JOSEError) {
        throw new HttpError(
          401,
          "unauthorized",
          `The GitHub Actions OIDC token was refused (${error.code}: ${error.message}). Ask for it with the audience ${audience}.`,
        );
      }
      throw error;
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      throw new HttpError(401, "unauthorized", "The OIDC token has no repository, run_id or ref claim.");
    }
    const { repository, run_id, ref } = claims.data;
    c.set("actionsRun", { repository, runId: Number(run_id), ref });
    return next();
  };
}
