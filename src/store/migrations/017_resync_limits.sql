-- Issue 22: a resync spends the installation's GitHub rate limit, shared by all its repositories.
-- Per project: one resync at a time (a lease that runs out if its process dies), applied resyncs
-- a cooldown apart, and the last dry run's answer kept, so dry runs within a minute reuse it.
-- Kept in the database, so every web instance sees the same limits.
CREATE TABLE resync_runs (
  project_key text PRIMARY KEY,
  -- The run in progress: who holds it and until when (extended while it lists).
  lease_owner text,
  lease_until timestamptz,
  -- When the last applied resync started: the next waits for the cooldown.
  applied_at timestamptz,
  -- The last dry run's answer and when it was made (cleared when a resync is applied).
  plan jsonb,
  planned_at timestamptz,
  -- What the last run asked GitHub: the estimate for the next one, checked against the budget.
  github_requests integer
);
