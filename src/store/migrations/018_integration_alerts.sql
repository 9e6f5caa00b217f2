-- Alerts about an integration (a delivery failed for good, the integration disabled), one row per
-- integration, type and window of 10 minutes: a later alert of the window counts into its row
-- (count, last_at) instead of becoming an activity of its own. A project's integration's alert is
-- also an activity of that project (same id, `owner` null); an owner-wide integration's alert is
-- kept here only (`owner`, `body`): it is the operator's, never a project's activity.
CREATE TABLE integration_alerts (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  integration_id text NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
  type text NOT NULL,
  owner text,
  body jsonb,
  count integer NOT NULL DEFAULT 1,
  first_at timestamptz NOT NULL,
  last_at timestamptz NOT NULL
);
CREATE INDEX integration_alerts_window ON integration_alerts (integration_id, type, first_at DESC);
CREATE INDEX integration_alerts_by_owner ON integration_alerts (owner, seq DESC) WHERE owner IS NOT NULL;
