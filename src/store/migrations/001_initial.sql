-- Projects are GitHub repositories, keyed by their lower-cased owner/repo (GitHub compares names
-- case-insensitively) and shown as GitHub spells them.
CREATE TABLE projects (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key text NOT NULL UNIQUE,
  full_name text NOT NULL,
  default_branch text NOT NULL,
  installation_id bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The inbox: every accepted GitHub delivery, stored before it is acknowledged.
CREATE TABLE github_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id text NOT NULL UNIQUE,
  name text NOT NULL,
  action text,
  project_key text NOT NULL,
  payload text NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'processed', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  outcome text,
  received_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz
);
CREATE INDEX github_events_pending ON github_events (project_key, id) WHERE state = 'pending';

CREATE TABLE environments (
  project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name text NOT NULL,
  machine_name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('branch', 'pull_request')),
  pull_request integer,
  parent text,
  head_commit text,
  previous_commit text,
  status text NOT NULL CHECK (status IN ('active', 'inactive')),
  is_main boolean NOT NULL DEFAULT false,
  clone_parent_data boolean NOT NULL DEFAULT false,
  last_activity_id text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (project_id, name),
  UNIQUE (project_id, machine_name)
);

-- Activities keep their whole Platform.sh-style JSON in `body`; the columns beside it are what
-- queries filter and sort on.
CREATE TABLE activities (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  environment text,
  type text NOT NULL,
  state text NOT NULL,
  result text,
  body jsonb NOT NULL,
  github_delivery_id text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX activities_by_project ON activities (project_id, seq DESC);
