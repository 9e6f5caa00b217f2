-- Issue 26: a project's GitHub-updates lease gets a table of its own. On the projects row, taking
-- or giving it up waited for every apply transaction of the project (which locks that row until it
-- commits): under load, GitHub drains held pool connections for up to half a second each, and the
-- relay and intake waited for connections. projects.github_lease_owner and github_lease_until are
-- no longer used. During a rolling upgrade, instances of the previous version take the old lease
-- and these the new one: a project's GitHub updates may be sent twice until the old ones are gone.
CREATE TABLE github_update_leases (
  project_key text PRIMARY KEY,
  owner text NOT NULL,
  until timestamptz NOT NULL
);
