-- `runner: github-actions`: the workflow run each activity started, found by the run's id (its
-- events) or by the activity (cancelling it), with what was last seen of it.
CREATE TABLE workflow_runs (
  run_id bigint PRIMARY KEY,
  activity_id text NOT NULL,
  project_key text NOT NULL,
  html_url text,
  -- The branch whose workflow file runs (the dispatch's ref): an OIDC token must name it.
  ref text,
  -- The run's status as last seen (queued, in_progress, completed), and its jobs by id:
  -- {"<job id>": {"name", "status", "conclusion"}}.
  status text,
  jobs jsonb NOT NULL DEFAULT '{}',
  -- The ETag of the last read of the run (GET …/actions/runs/{id}), for a conditional read.
  etag text,
  -- When anything about the run last changed: a run quiet for 10 minutes is read again.
  changed_at timestamptz NOT NULL
);
CREATE INDEX workflow_runs_by_activity ON workflow_runs (activity_id);
CREATE INDEX workflow_runs_open ON workflow_runs (changed_at) WHERE status IS DISTINCT FROM 'completed';

-- A dispatch GitHub answered without its run's id (204: GitHub Enterprise Server before 3.21). Its
-- run is found from its first event by the activity id in its run-name; only a run of this workflow
-- (a file name, or the workflow's numeric id) on this branch may claim it, and only once: the row
-- goes when a run claims it. While one waits, the repository's workflow_run/workflow_job events are
-- stored (any could be its run's); otherwise only those of runs in workflow_runs are.
CREATE TABLE unidentified_dispatches (
  activity_id text PRIMARY KEY,
  project_key text NOT NULL,
  workflow text NOT NULL,
  ref text NOT NULL,
  sent_at timestamptz NOT NULL
);
CREATE INDEX unidentified_dispatches_by_project ON unidentified_dispatches (project_key, sent_at);

-- Reads the runs whose events may have gone missing: at start, then those quiet for 10 minutes.
INSERT INTO background_jobs (name) VALUES ('read-quiet-runs');
