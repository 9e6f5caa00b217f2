import type { PushCommit } from "../lifecycle/github-event.ts";
import type { ChangedFiles } from "../lifecycle/match-paths.ts";
import type { Queryable } from "./database.ts";

/** A push's commits kept for a pull request's `synchronize` to the same head: at most this many. */
const KEPT_COMMITS = 100;

/** Keeps the commits of a push by the head commit it moved its branch to (in the push's transaction). */
export async function insertPushCommits(
  tx: Queryable,
  projectKey: string,
  push: { before: string; headSha: string; commits: PushCommit[]; changed?: ChangedFiles | undefined },
): Promise<void> {
  await insertManyPushCommits(tx, projectKey, [push]);
}

/** Keeps several pushes' commits in one statement (a batch of events); the first push to a head wins. */
export async function insertManyPushCommits(
  tx: Queryable,
  projectKey: string,
  /** `changed`: the files the push changed (`paths`); unknown or not given: kept as not known. */
  pushes: ReadonlyArray<{
    /** Where the push started (its `before`). */
    before: string;
    headSha: string;
    commits: PushCommit[];
    changed?: ChangedFiles | undefined;
  }>,
): Promise<void> {
  if (pushes.length === 0) return;
  const rows = pushes.map(({ before, headSha, commits, changed }, n) => ({
    n,
    before_sha: before,
    head_sha: headSha,
    files: changed && "files" in changed ? changed.files : null,
    commits: commits.slice(-KEPT_COMMITS).map(({ id, message, author }) => ({
      id,
      message,
      author: { name: author.name, email: author.email ?? null },
    })),
  }));
  await tx.query(
    `INSERT INTO push_commits (project_key, head_sha, before_sha, commits, files)
     SELECT $1, p.head_sha, p.before_sha, p.commits, p.files
     FROM jsonb_to_recordset($2::jsonb) AS p(n integer, head_sha text, before_sha text, commits jsonb, files jsonb)
     ORDER BY p.n
     ON CONFLICT (project_key, head_sha) DO NOTHING`,
    [projectKey, JSON.stringify(rows)],
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

/**
 * The push that moved a branch of the project to `headSha`, if one was applied: where it started
 * (null: not known), its commits, and the files it changed (null: not known for sure). The first
 * push to a head is kept: another branch's push to the same head may have started elsewhere.
 */
export async function findPush(
  db: Queryable,
  projectKey: string,
  headSha: string,
): Promise<{ before: string | null; commits: PushCommit[]; files: string[] | null } | undefined> {
  const { rows } = await db.query<{ before: string | null; commits: PushCommit[]; files: string[] | null }>(
    "SELECT before_sha AS before, commits, files FROM push_commits WHERE project_key = $1 AND head_sha = $2",
    [projectKey, headSha],
  );
  return rows[0];
}

/** Forgets the commits of pushes older than `before`: a pull request's push arrives within seconds. */
export async function prunePushCommits(db: Queryable, before: Date): Promise<void> {
  await db.query("DELETE FROM push_commits WHERE created_at < $1", [before]);
}
