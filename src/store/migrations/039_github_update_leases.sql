-- Issue 26: a project's GitHub-updates lease gets a table of its own. On the projects row, taking
-- or giving it up waited for every apply transaction of the project (which locks that row until it
-- commits): under load, GitHub drains held pool connections for up to half a second each, and the
-- relay and intake waited for connections. projects.github_lease_owner and github_lease_until are
-- no longer used (kept for instances of the previous version during a rolling upgrade).
CREATE TABLE github_update_leases (
  project_key text PRIMARY KEY,
  owner text NOT NULL,
  until timestamptz NOT NULL
);
