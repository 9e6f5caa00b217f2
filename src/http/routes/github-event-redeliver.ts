import { randomUUID } from "node:crypto";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Delivery } from "../../intake/accept-delivery.ts";
import { findEventPayload } from "../../store/dashboard-queries.ts";
import type { Database } from "../../store/database.ts";
import { projectKey } from "../../store/projects.ts";
import { HttpError } from "../http-error.ts";
import { authorizeOperator } from "../require-api-token.ts";
import { jsonContent, rejectInvalid } from "../validation.ts";

const SUFFIX = /^(.+)\.redelivery-[0-9a-f]{8}$/;

/** The delivery a redelivery was made from (its id says so), or undefined. */
export function redeliveryOf(deliveryId: string): string | undefined {
  return SUFFIX.exec(deliveryId)?.[1];
}

/**
 * Redeliver a GitHub event, as GitHub's "Recent Deliveries" does: the payload as received, under a
 * new delivery id (`<original>.redelivery-<8 hex>`), through the inbox like any delivery, so it
 * is applied after what is already waiting for the repository. Operators only: it can start builds.
 */
export function githubEventRedeliverRoutes(deps: {
  db: Database;
  accept: (delivery: Delivery) => Promise<"accepted" | "duplicate">;
}) {
  const app = new OpenAPIHono({ defaultHook: rejectInvalid });
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/projects/{owner}/{repo}/github-events/{delivery_id}/redeliver",
      summary: "Apply a GitHub delivery again (operator)",
      description:
        "Stores the delivery's payload again under a new delivery id, `<delivery_id>.redelivery-<8 hex>`, " +
        "and applies it like any delivery from GitHub: after what already waits for the repository. " +
        "Refused with **409** when retention no longer keeps the payload.",
      request: {
        params: z.object({
          owner: z.string().min(1).max(100).describe("The repository's owner"),
          repo: z.string().min(1).max(100).describe("The repository's name"),
          delivery_id: z.string().min(1).max(100).describe("GitHub's delivery id (`X-GitHub-Delivery`)"),
        }),
      },
      responses: {
        202: jsonContent(
          z.object({ delivery_id: z.string(), redelivery_of: z.string() }),
          "The new delivery, accepted",
        ),
      },
    }),
    async (c) => {
      authorizeOperator(c, "redeliver a GitHub event");
      const { owner, repo, delivery_id } = c.req.valid("param");
      const key = projectKey(`${owner}/${repo}`);
      const event = await findEventPayload(deps.db, key, delivery_id);
      if (!event)
        throw new HttpError(404, "event_not_found", `No GitHub delivery ${delivery_id} in ${owner}/${repo}.`);
      if (event.payload === null)
        throw new HttpError(
          409,
          "payload_gone",
          `GitHub delivery ${delivery_id} is older than retention keeps payloads: redeliver it from the App's Advanced settings on GitHub.`,
        );
      // A redelivery of a redelivery names the first one.
      const original = redeliveryOf(delivery_id) ?? delivery_id;
      const id = `${original.slice(0, 80)}.redelivery-${randomUUID().slice(0, 8)}`;
      await deps.accept({
        deliveryId: id,
        name: event.name,
        action: event.action,
        projectKey: key,
        payload: event.payload,
      });
      return c.json({ delivery_id: id, redelivery_of: original }, 202);
    },
  );
  return app;
}
