-- Tokens that manage one project, read-only or read-write. Only a hash of each is kept: the
-- token itself is shown once, when it is created.
CREATE TABLE api_tokens (
  id text PRIMARY KEY,
  name text NOT NULL,
  project_key text NOT NULL,
  access text NOT NULL CHECK (access IN ('read', 'write')),
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
