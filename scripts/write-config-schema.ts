// Writes schema/envhooks.schema.json, the JSON Schema of .github/envhooks.yml for editors
// (YAML language servers read it). `npm run schema` after changing src/config/repo-config.schema.ts.
import { writeFileSync } from "node:fs";
import { repoConfigJsonSchema } from "../src/config/repo-config-json-schema.ts";

const target = new URL("../schema/envhooks.schema.json", import.meta.url);
writeFileSync(target, `${JSON.stringify(repoConfigJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
