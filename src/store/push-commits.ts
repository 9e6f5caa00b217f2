import type { PushCommit } from "../lifecycle/github-event.ts";
import type { Queryable } from "./database.ts";

/** A push's commits kept for a pull request's `synchronize` to the same head: at most this many. */
const KEPT_COMMITS = 100;

/** Keeps the commits of a push by the head commit it moved its branch to (in the push's transaction). */
export async function insertPushCommits(
  tx: Queryable,
  projectKey: string,
  headSha: string,
  commits: PushCommit[],
): Promise<void> {
  const kept = commits.slice(-KEPT_COMMITS).map(({ id, message, author }) => ({
    id,
    message,
    author: { name: author.name, email: author.email ?? null },
  }));
  await tx.query(
    `INSERT INTO push_commits (project_key, head_sha, commits) VALUES ($1, $2, $3)
     ON CONFLICT (project_key, head_sha) DO NOTHING`,
    [projectKey, headSha, JSON.stringify(kept)],
  );
}

/** The commits of the push that moved a branch of the project to `headSha`, if one was applied. */
export async function findPushCommits(
  db: Queryable,
  projectKey: string,
  headSha: string,
): Promise<PushCommit[] | undefined> {
  const { rows } = await db.query<{ commits: PushCommit[] }>(
    "SELECT commits FROM push_commits WHERE project_key = $1 AND head_sha = $2",
    [projectKey, headSha],
  );
  return rows[0]?.commits;
}

/** Forgets the commits of pushes older than `before`: a pull request's push arrives within seconds. */
export async function prunePushCommits(db: Queryable, before: Date): Promise<void> {
  await db.query("DELETE FROM push_commits WHERE created_at < $1", [before]);
}
