import { createHash } from "node:crypto";

const MAX_LABEL = 63;

/**
 * Turns an environment name (a branch name such as `feature/Login_v2`) into a DNS label: lower
 * case, `[a-z0-9-]`, no leading or trailing dash, at most 63 characters (RFC 1035). When the label
 * is already used by another environment of the project, a short hash of the full name is appended
 * so both stay distinct and the result is the same every time for the same name.
 */
export function machineName(name: string, taken: ReadonlySet<string> = new Set()): string {
  const free = machineNameCandidates(name).find((candidate) => !taken.has(candidate));
  if (free === undefined) throw new Error(`no free machine name for ${name}`);
  return free;
}

/** The labels `machineName` may give `name`, in the order it tries them. */
export function machineNameCandidates(name: string): string[] {
  const base =
    name
      .normalize("NFKD")
      .replace(/\p{M}/gu, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, MAX_LABEL)
      .replace(/-+$/, "") || "env";
  const hash = createHash("sha256").update(name).digest("hex");
  const candidates = [base];
  for (let length = 6; length <= hash.length; length++) {
    const suffix = `-${hash.slice(0, length)}`;
    candidates.push(`${base.slice(0, MAX_LABEL - suffix.length).replace(/-+$/, "")}${suffix}`);
  }
  return candidates;
}
