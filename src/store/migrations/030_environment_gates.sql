-- What a build gate last did to an environment (issue 25): `skipped (paths)` (a rebuild skipped, no
-- changed file under `paths`) or `not created: limit` (`max_environments` reached; the environment
-- may not exist). Shown on the project page while nothing newer happened to the environment
-- (`at` not older than its `updated_at`); the row of an environment that is gone says why.
CREATE TABLE environment_gates (
  project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name text NOT NULL,
  gate text NOT NULL,
  head_commit text,
  at timestamptz NOT NULL,
  PRIMARY KEY (project_id, name)
);
