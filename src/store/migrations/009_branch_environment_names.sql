-- A branch named like a pull request's environment (pr-<N>, any case) has the environment
-- `branch:<branch>` (git refuses `:` in branch names), so the branch `pr-6` and pull request #6
-- never share one. Environments stored before keep their history under the new name; parents are
-- always branches' environments.
UPDATE activities SET environment = 'branch:' || environment
WHERE environment ~* '^pr-[0-9]+$'
  AND (project_id, environment) IN (
    SELECT project_id, name FROM environments WHERE kind = 'branch' AND name ~* '^pr-[0-9]+$'
  );
UPDATE environments SET name = 'branch:' || name
WHERE kind = 'branch' AND name ~* '^pr-[0-9]+$';
UPDATE environments SET parent = 'branch:' || parent
WHERE parent ~* '^pr-[0-9]+$';
