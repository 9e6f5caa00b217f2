import { randomBytes } from "node:crypto";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { newActivityId } from "../../activity/activity-id.ts";
import { type ApiToken, insertApiToken, listApiTokens, revokeApiToken } from "../../store/api-tokens.ts";
import type { Database } from "../../store/database.ts";
import { projectKey } from "../../store/projects.ts";
import { HttpError } from "../http-error.ts";
import { hashToken, mayCreateTokens, PROJECT_TOKEN_PREFIX, type Principal } from "../require-api-token.ts";
import { jsonContent, rejectInvalid } from "../validation.ts";

const CreateToken = z
  .object({
    /** The project (`owner/repo`) the token may manage. */
    project: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "must be owner/repo"),
    /** `read`: GET only; `write`: everything on the project. */
    access: z.enum(["read", "write"]).default("read"),
    /** What the token is for, to recognise it in the list. */
    name: z.string().min(1).max(100).default("project token"),
  })
  .strict();

const TokenJson = z.object({
  id: z.string(),
  name: z.string(),
  project: z.string(),
  access: z.enum(["read", "write"]),
  created_at: z.string(),
});

const present = (token: ApiToken) => ({
  id: token.id,
  name: token.name,
  project: token.projectKey,
  access: token.access,
  created_at: new Date(token.createdAt).toISOString(),
});

/** Who may manage tokens at all: the operator, or a GitHub user who is admin of a repository. */
function authorizeTokens(principal: Principal, what: string): void {
  const admin = principal.kind === "user" && [...principal.projects.values()].includes("admin");
  if (principal.kind !== "operator" && !admin)
    throw new HttpError(
      403,
      "forbidden",
      `Only ENVHOOKS_API_TOKEN or a repository's admin on GitHub (signed in to the dashboard) can ${what}.`,
    );
}

/**
 * Project tokens: created, listed and revoked by the operator (every project) or by a GitHub user
 * signed in to the dashboard for the repositories they are admin of.
 */
export function tokenRoutes(db: Database) {
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/tokens",
      summary: "Create a token scoped to one project; it is shown this once",
      description:
        "The operator may create a token for any repository envhooks knows; a GitHub user signed in to the dashboard, " +
        "for a repository they are **admin** of.",
      request: { body: { content: { "application/json": { schema: CreateToken } }, required: true } },
      responses: {
        201: jsonContent(TokenJson.extend({ token: z.string() }), "The token, in clear this once"),
      },
    }),
    async (c) => {
      const principal = c.get("principal");
      authorizeTokens(principal, "create tokens");
      const body = c.req.valid("json");
      if (!mayCreateTokens(principal, body.project))
        throw new HttpError(
          403,
          "forbidden",
          `Only ENVHOOKS_API_TOKEN or an admin of ${body.project} on GitHub can create its tokens.`,
        );

      const token = `${PROJECT_TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
      const stored = await insertApiToken(db, {
        id: newActivityId(),
        name: body.name,
        projectKey: projectKey(body.project),
        access: body.access,
        tokenHash: hashToken(token),
      });
      return c.json({ ...present(stored), token }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/tokens",
      summary: "List live project tokens (never the tokens themselves)",
      description: "The operator sees every token; a repository admin, those of their repositories.",
      responses: { 200: jsonContent(z.array(TokenJson), "Every live token, oldest first") },
    }),
    async (c) => {
      const principal = c.get("principal");
      authorizeTokens(principal, "list tokens");
      const tokens = (await listApiTokens(db)).filter((token) =>
        mayCreateTokens(principal, token.projectKey),
      );
      return c.json(tokens.map(present), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/tokens/{id}",
      summary: "Revoke a token: it stops working at once",
      request: { params: z.object({ id: z.string().regex(/^[a-z2-7]{13}$/, "must be a token id") }) },
      responses: { 200: jsonContent(z.object({ revoked: z.string() }), "The revoked token's id") },
    }),
    async (c) => {
      const principal = c.get("principal");
      authorizeTokens(principal, "revoke tokens");
      const { id } = c.req.valid("param");
      const token = (await listApiTokens(db)).find((live) => live.id === id);
      if (token && !mayCreateTokens(principal, token.projectKey))
        throw new HttpError(
          403,
          "forbidden",
          `Only ENVHOOKS_API_TOKEN or an admin of ${token.projectKey} can revoke its tokens.`,
        );
      if (!(await revokeApiToken(db, id)))
        throw new HttpError(404, "token_not_found", `No live token ${id}.`);
      return c.json({ revoked: id }, 200);
    },
  );

  return app;
}
