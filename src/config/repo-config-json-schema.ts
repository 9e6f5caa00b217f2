import { z } from "zod";
import { repoConfigSchema } from "./repo-config.schema.ts";

/** The JSON Schema of `.github/envhooks.yml`, field docs included, for editors. */
export function repoConfigJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(repoConfigSchema, { io: "input" }),
    $id: "https://envhooks.dev/schema/envhooks.schema.json",
    title: ".github/envhooks.yml",
    description: "Per-repository options of the envhooks GitHub App.",
  };
}
