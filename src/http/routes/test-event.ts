import { randomUUID } from "node:crypto";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { simulatedPayload } from "../../cli/simulated-events.ts";
import type { Delivery } from "../../intake/accept-delivery.ts";
import type { Database } from "../../store/database.ts";
import { findProjectIdentity, projectKey } from "../../store/projects.ts";
import { jsonContent, rejectInvalid } from "../validation.ts";

const ProjectParams = z.object({ owner: z.string().min(1).max(100), repo: z.string().min(1).max(100) });

/** A branch name git accepts (the common rules: no spaces, `..`, control characters, `~^:?*[\`). */
const Branch = z
  .string()
  .min(1)
  .max(200)
  .refine(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    (name) => !/[\u0000-\u0020\u007f~^:?*[\\]|\.\.|@\{|^[/.]|[/.]$|\/\/|\.lock$/.test(name),
    "must be a branch name git accepts (no spaces, .., ~^:?*[\\, nor a leading or trailing / or .)",
  );

/**
 * `POST /api/projects/{owner}/{repo}/test-event`: `envhooks simulate push` from the dashboard — a
 * push to `branch`, shaped as GitHub sends it and marked simulated (`envhooks_simulated: true`),
 * stored in the inbox like any delivery. The project's repository id is used when known (so the
 * event is the project's); before the first event, a simulated id (like the CLI's). Writers only
 * (the project routes' guard refuses readers).
 */
export function testEventRoutes(deps: { db: Database; accept: (delivery: Delivery) => Promise<unknown> }) {
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/projects/{owner}/{repo}/test-event",
      summary: "Send a simulated push to a branch (what `envhooks simulate push` sends), marked simulated",
      request: {
        params: ProjectParams,
        body: {
          content: {
            "application/json": {
              schema: z.object({ branch: Branch.describe("The branch pushed to") }).strict(),
            },
          },
          required: true,
        },
      },
      responses: {
        202: jsonContent(
          z.object({ delivery_id: z.string(), project: z.string(), branch: z.string() }),
          "Stored: its activities follow, as for a GitHub delivery",
        ),
      },
    }),
    async (c) => {
      const { owner, repo } = c.req.valid("param");
      const { branch } = c.req.valid("json");
      const key = projectKey(`${owner}/${repo}`);
      const known = await findProjectIdentity(deps.db, { key });
      const fullName = known?.fullName ?? `${owner}/${repo}`;
      const payload = simulatedPayload("push", {
        repo: fullName,
        branch,
        pr: 1,
        action: "opened",
        ...(known?.repositoryId ? { repositoryId: known.repositoryId } : {}),
      });
      const deliveryId = randomUUID();
      await deps.accept({
        deliveryId,
        name: "push",
        action: null,
        projectKey: key,
        payload: JSON.stringify(payload),
      });
      return c.json({ delivery_id: deliveryId, project: fullName, branch }, 202);
    },
  );
  return app;
}
