import type { RepoConfig } from "../config/repo-config.schema.ts";
import type { Plan, RefusedEnvironment, Transition } from "./transition.ts";

/** An active environment, as the cap weighs it (never the default branch's). */
export interface ActiveEnvironment {
  name: string;
  kind: "branch" | "pull_request";
  pullRequest: number | null;
  /** When it last changed (deployed, rebuilt, activated). */
  updatedAt: Date;
}

/**
 * `max_environments`: a plan that would take the project's active environments (besides the
 * default branch's) over the limit either refuses the new ones (`refuse`: `plan.refused`) or
 * deactivates the oldest first (`deactivate_oldest`): the least recently changed environment that
 * has no pull request, then the oldest pull request's (lowest number). Creating the default branch's
 * environment is never refused; deletions and deactivations in the plan make room first. Pure:
 * `active` is what the store holds now.
 */
export function capEnvironments(
  plan: Plan,
  options: Pick<RepoConfig, "max_environments" | "on_environment_limit">,
  active: readonly ActiveEnvironment[],
): Plan {
  const limit = options.max_environments;
  if (limit === undefined || !plan.transitions.some(countsAgainstCap)) return plan;
  const running = new Map(active.map((environment) => [environment.name, environment]));
  const transitions: Transition[] = [];
  const refused: RefusedEnvironment[] = [...(plan.refused ?? [])];
  const notes = [...plan.notes];
  // Made active by this plan: never the one deactivated to make room for another.
  const fresh = new Set<string>();
  for (const transition of plan.transitions) {
    if (transition.action === "delete" || transition.action === "deactivate") {
      running.delete(transition.environment);
    }
    if (!countsAgainstCap(transition)) {
      transitions.push(transition);
      continue;
    }
    const name =
      typeof transition.environment === "string" ? transition.environment : transition.environment.name;
    if (running.has(name)) {
      transitions.push(transition);
      continue;
    }
    if (running.size >= limit) {
      const oldest =
        options.on_environment_limit === "deactivate_oldest" ? oldestOf(running, fresh) : undefined;
      if (!oldest) {
        refused.push({ transition, limit });
        notes.push(`environment ${name} not created: environment limit (${limit}) reached`);
        continue;
      }
      running.delete(oldest.name);
      transitions.push({
        action: "deactivate",
        environment: oldest.name,
        reason: `made room for ${name} (max_environments: ${limit}, on_environment_limit: deactivate_oldest)`,
      });
    }
    running.set(name, {
      name,
      kind: typeof transition.environment === "string" ? "branch" : transition.environment.kind,
      pullRequest: typeof transition.environment === "string" ? null : transition.environment.pullRequest,
      updatedAt: new Date(0),
    });
    fresh.add(name);
    transitions.push(transition);
  }
  return { ...plan, transitions, refused, notes };
}

/** A transition that makes an environment active: creating one (not the default branch's), or activating one. */
function countsAgainstCap(transition: Transition): transition is RefusedEnvironment["transition"] {
  if (transition.action === "create") return !transition.environment.isMain;
  return transition.action === "activate";
}

/** Branch environments (no pull request) least recently changed first, then pull requests' oldest first. */
function oldestOf(
  running: ReadonlyMap<string, ActiveEnvironment>,
  fresh: ReadonlySet<string>,
): ActiveEnvironment | undefined {
  const candidates = [...running.values()].filter((environment) => !fresh.has(environment.name));
  return candidates.sort((a, b) => {
    if (a.kind !== b.kind) return a.kind === "branch" ? -1 : 1;
    if (a.kind === "pull_request") return (a.pullRequest ?? 0) - (b.pullRequest ?? 0);
    return a.updatedAt.getTime() - b.updatedAt.getTime() || a.name.localeCompare(b.name);
  })[0];
}
