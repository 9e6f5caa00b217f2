-- wait_for_checks (issue 25): an activity waiting for its head commit's checks, one row while it
-- waits. Events about the commit's checks settle it; the sweep ends one whose grace or timeout
-- passed (both survive a restart, being here).
CREATE TABLE check_waits (
  activity_id text PRIMARY KEY,
  project_key text NOT NULL,
  sha text NOT NULL,
  -- The branch whose required checks count (wait_for_checks: required).
  branch text NOT NULL,
  mode text NOT NULL,
  -- wait_for_checks_ignore, envhooks/* added.
  ignore jsonb NOT NULL DEFAULT '[]',
  started_at timestamptz NOT NULL,
  -- No check suite or status by then: the build goes ahead without checks.
  grace_until timestamptz NOT NULL,
  -- Still unsettled by then: the activity fails, naming the checks still pending.
  timeout_at timestamptz NOT NULL
);
CREATE INDEX check_waits_by_commit ON check_waits (project_key, sha);
CREATE INDEX check_waits_by_deadline ON check_waits (grace_until);

-- What GitHub said of a waited-for commit's checks: its check suites (`suite:<id>`), check runs
-- (`run:<id>`, with their suite) and commit statuses (`status:<context>`), as last seen. Kept only
-- while an activity waits on the commit.
CREATE TABLE commit_checks (
  project_key text NOT NULL,
  sha text NOT NULL,
  key text NOT NULL,
  kind text NOT NULL,
  name text NOT NULL,
  suite_id bigint,
  -- queued, in_progress or completed (a status's pending is in_progress).
  status text NOT NULL,
  conclusion text,
  html_url text,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (project_key, sha, key)
);

-- wait_for_checks: required: the checks a branch requires (protection and rulesets), read from
-- GitHub at a wait and kept with the options: read again once the options were checked after it.
CREATE TABLE required_checks (
  project_key text NOT NULL,
  branch text NOT NULL,
  checks jsonb NOT NULL,
  read_at timestamptz NOT NULL,
  PRIMARY KEY (project_key, branch)
);
