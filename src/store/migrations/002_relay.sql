-- Integrations: where a project's activities are relayed. Keyed by project key (owner/repo,
-- lower case) so an integration can be set up before the project's first event.
CREATE TABLE integrations (
  id text PRIMARY KEY,
  project_key text NOT NULL,
  type text NOT NULL,
  -- Everything but the secret: url, filters, format, headers, timeout, retry schedule.
  config jsonb NOT NULL,
  secret text,
  previous_secret text,
  previous_secret_until timestamptz,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled')),
  disabled_reason text,
  failing_since timestamptz,
  -- Kudu's summary of the last attempt.
  last_datetime timestamptz,
  last_status text,
  last_reason text,
  last_context text,
  -- Which process is sending this integration's deliveries, until when.
  lease_owner text,
  lease_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integrations_by_project ON integrations (project_key);

-- The outbox: one delivery per activity and matching integration, written in the activity's
-- transaction. `id` is the webhook-id receivers see, the same on every attempt.
CREATE TABLE deliveries (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  integration_id text NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
  activity_id text NOT NULL,
  event text NOT NULL,
  body text NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  -- Failures since the delivery was created or redelivered: the position in the retry schedule.
  failures integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_status integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_pending ON deliveries (integration_id, seq) WHERE state = 'pending';
CREATE INDEX deliveries_by_integration ON deliveries (integration_id, seq DESC);

-- Every attempt, as sent and as answered.
CREATE TABLE delivery_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  url text NOT NULL,
  request_headers jsonb NOT NULL,
  status_code integer,
  response_headers jsonb,
  response_body text,
  error text,
  succeeded boolean NOT NULL
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, attempt);
