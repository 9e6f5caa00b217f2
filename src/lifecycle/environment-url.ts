import type { URL_PLACEHOLDERS } from "../config/repo-config.schema.ts";

type Placeholder = (typeof URL_PLACEHOLDERS)[number];

/**
 * Fills an `environment_url` template such as `https://{machine_name}.preview.example.com`.
 * Values are URL-encoded (a branch name may hold `/`); a missing commit leaves its placeholders empty.
 */
export function renderEnvironmentUrl(
  template: string,
  environment: { name: string; machineName: string; pullRequest: number | null; headCommit: string | null },
  projectFullName: string,
): string {
  const [owner = "", repo = ""] = projectFullName.split("/");
  const values: Record<Placeholder, string> = {
    machine_name: environment.machineName,
    name: environment.name,
    pr: environment.pullRequest === null ? "" : String(environment.pullRequest),
    sha: environment.headCommit ?? "",
    short_sha: environment.headCommit?.slice(0, 7) ?? "",
    owner,
    repo,
  };
  return template.replace(/\{([a-z_]+)\}/g, (whole, name: string) =>
    name in values ? encodeURIComponent(values[name as Placeholder]) : whole,
  );
}
