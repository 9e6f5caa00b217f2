-- Work one instance at a time runs on a timer (issue 18): recovering the GitHub deliveries that
-- failed while envhooks was down, and retention. The lease works as integrations' and projects' do
-- (src/store/leases.ts); `state` is what a job remembers between runs.
CREATE TABLE background_jobs (
  name text PRIMARY KEY,
  lease_owner text,
  lease_until timestamptz,
  state jsonb NOT NULL DEFAULT '{}',
  last_run_at timestamptz
);
INSERT INTO background_jobs (name) VALUES ('recover-github-deliveries'), ('retention');

-- GitHub deliveries envhooks asked GitHub to send again, by their GUID (X-GitHub-Delivery), and how
-- many times (again, at most 3, when the redelivery failed too). GitHub keeps deliveries 3 days, so
-- rows older than that are dropped.
CREATE TABLE github_redeliveries (
  guid text PRIMARY KEY,
  hook_delivery_id bigint NOT NULL,
  event text NOT NULL,
  action text,
  status_code integer,
  asks integer NOT NULL DEFAULT 1,
  requested_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX github_redeliveries_by_age ON github_redeliveries (requested_at);

-- Retention empties a GitHub delivery's payload and keeps the row: its delivery id answers
-- GitHub's redeliveries as duplicates and tells recovery the event is here.
ALTER TABLE github_events ALTER COLUMN payload DROP NOT NULL;

-- Retention finds what is old through these, a small batch at a time.
CREATE INDEX github_events_finished_by_age ON github_events (processed_at)
  WHERE state <> 'pending' AND payload IS NOT NULL;
CREATE INDEX deliveries_finished_by_age ON deliveries (updated_at) WHERE state <> 'pending';
CREATE INDEX delivery_attempts_by_age ON delivery_attempts (started_at)
  WHERE response_body IS NOT NULL OR request_headers <> '{}'::jsonb;
CREATE INDEX activities_by_age ON activities (updated_at);
CREATE INDEX github_tasks_finished_by_age ON github_tasks (done_at) WHERE state <> 'pending';
-- An activity's deliveries (retention keeps an activity while one is pending; the activity's
-- deliveries are listed by it).
CREATE INDEX deliveries_by_activity ON deliveries (activity_id);
