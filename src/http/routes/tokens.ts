import { randomBytes } from "node:crypto";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { newActivityId } from "../../activity/activity-id.ts";
import { type ApiToken, insertApiToken, listApiTokens, revokeApiToken } from "../../store/api-tokens.ts";
import type { Database } from "../../store/database.ts";
import { projectKey } from "../../store/projects.ts";
import { HttpError } from "../http-error.ts";
import { authorizeOperator, hashToken, PROJECT_TOKEN_PREFIX } from "../require-api-token.ts";
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

/** Project tokens: created, listed and revoked with the operator's token only. */
export function tokenRoutes(db: Database) {
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/tokens",
      summary: "Create a token scoped to one project; it is shown this once",
      request: { body: { content: { "application/json": { schema: CreateToken } }, required: true } },
      responses: {
        201: jsonContent(TokenJson.extend({ token: z.string() }), "The token, in clear this once"),
      },
    }),
    async (c) => {
      authorizeOperator(c, "create tokens");
      const body = c.req.valid("json");
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
      responses: { 200: jsonContent(z.array(TokenJson), "Every live token, oldest first") },
    }),
    async (c) => {
      authorizeOperator(c, "list tokens");
      return c.json((await listApiTokens(db)).map(present), 200);
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
      authorizeOperator(c, "revoke tokens");
      const { id } = c.req.valid("param");
      if (!(await revokeApiToken(db, id)))
        throw new HttpError(404, "token_not_found", `No live token ${id}.`);
      return c.json({ revoked: id }, 200);
    },
  );

  return app;
}
