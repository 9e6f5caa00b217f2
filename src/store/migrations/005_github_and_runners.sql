-- The repository's options as last read from .github/envhooks.yml: what work not started by a
-- GitHub event (redeploys, expiry, runner timeouts) goes by.
ALTER TABLE projects ADD COLUMN config jsonb;

-- The environment's address: from the environment_url template, or as a deploy runner reported it.
ALTER TABLE environments ADD COLUMN url text;
CREATE INDEX environments_by_age ON environments (updated_at) WHERE NOT is_main;

-- With `runner: external`, an activity not reported on by this time completes as a failure.
ALTER TABLE activities ADD COLUMN runner_deadline timestamptz;
CREATE INDEX activities_awaiting_runner ON activities (runner_deadline) WHERE runner_deadline IS NOT NULL;

-- What envhooks has to tell GitHub (deployments, statuses, comments, labels), per project in order.
-- Failures are retried with backoff; they never hold up relaying.
CREATE TABLE github_tasks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_key text NOT NULL,
  kind text NOT NULL,
  body jsonb NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  done_at timestamptz
);
CREATE INDEX github_tasks_pending ON github_tasks (project_key, id) WHERE state = 'pending';

-- The GitHub deployment made for each activity, so its statuses go to the same deployment.
CREATE TABLE github_deployments (
  activity_id text PRIMARY KEY,
  project_key text NOT NULL,
  environment text NOT NULL,
  deployment_id bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The envhooks comment of each pull request, edited in place.
CREATE TABLE github_comments (
  project_key text NOT NULL,
  pull_request integer NOT NULL,
  comment_id bigint NOT NULL,
  PRIMARY KEY (project_key, pull_request)
);
