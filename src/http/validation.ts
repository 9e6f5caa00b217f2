import type { Hook, z as zod } from "@hono/zod-openapi";
import type { z } from "zod";
import { HttpError } from "./http-error.ts";

/** Names each bad field: `limit: Too big: expected number to be <=100`. */
export function describeFields(error: z.ZodError): Array<{ field: string; message: string }> {
  return error.issues.map((issue) => ({ field: issue.path.join(".") || "(body)", message: issue.message }));
}

/** The hook every validated route uses: a 400 naming each bad parameter or field. */
// biome-ignore lint/suspicious/noExplicitAny: the hook is shared by routes of every shape
export const rejectInvalid: Hook<any, any, any, any> = (result) => {
  if (result.success) return;
  const fields = describeFields(result.error);
  throw new HttpError(
    400,
    "invalid_parameters",
    `Invalid ${fields.map((f) => `${f.field} (${f.message})`).join(", ")}.`,
    { fields },
  );
};

/** An OpenAPI response (or body) of JSON in `schema`. */
export const jsonContent = (schema: zod.ZodType, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
