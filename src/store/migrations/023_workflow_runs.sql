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

-- Reads the runs whose events may have gone missing: at start, then those quiet for 10 minutes.
INSERT INTO background_jobs (name) VALUES ('read-quiet-runs');
