import type { Queryable } from "./database.ts";

/** What a build gate last did to an environment, as the project page shows it. */
export type GateNote = "skipped (paths)" | "not created: limit";

export interface EnvironmentGate {
  name: string;
  gate: GateNote;
  headCommit: string | null;
  at: Date;
}

/** Records what a build gate did to an environment (the newest note wins). */
export async function saveEnvironmentGate(
  tx: Queryable,
  projectId: number,
  gate: Omit<EnvironmentGate, "at">,
  at: Date,
): Promise<void> {
  await tx.query(
    `INSERT INTO environment_gates (project_id, name, gate, head_commit, at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (project_id, name) DO UPDATE SET gate = excluded.gate, head_commit = excluded.head_commit,
       at = excluded.at`,
    [projectId, gate.name, gate.gate, gate.headCommit, at],
  );
}

/**
 * The gate notes still current: of environments that exist, those not older than the environment's
 * last change; of names with no environment (refused), every one.
 */
export async function currentEnvironmentGates(db: Queryable, projectId: number): Promise<EnvironmentGate[]> {
  const { rows } = await db.query<EnvironmentGate>(
    `SELECT g.name, g.gate, g.head_commit AS "headCommit", g.at
     FROM environment_gates g
     LEFT JOIN environments e ON e.project_id = g.project_id AND e.name = g.name
     WHERE g.project_id = $1 AND (e.name IS NULL OR g.at >= e.updated_at)
     ORDER BY g.name`,
    [projectId],
  );
  return rows;
}

/** Forgets the gate notes of these environments (their branch or pull request is gone). */
export async function forgetEnvironmentGates(
  tx: Queryable,
  projectId: number,
  names: string[],
): Promise<void> {
  if (names.length === 0) return;
  await tx.query("DELETE FROM environment_gates WHERE project_id = $1 AND name = ANY($2::text[])", [
    projectId,
    names,
  ]);
}
