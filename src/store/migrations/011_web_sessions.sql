-- Browser sessions of the dashboard (issue 17). The cookie carries a random token; only its
-- SHA-256 is kept here, so a copy of the database opens no session. A session was opened with the
-- operator's token, a project token (token_id: revoking the token ends the session) or by a
-- GitHub user through OAuth (login, the repositories they may read or write, when GitHub was last
-- asked, and the user's token sealed with the secret box, or null when secrets are stored plain).
CREATE TABLE web_sessions (
  id text PRIMARY KEY,
  token_hash text NOT NULL UNIQUE,
  csrf text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('operator', 'project', 'user')),
  operator_token_hash text,
  token_id text,
  login text,
  github_user_id bigint,
  user_token text,
  projects jsonb NOT NULL DEFAULT '{}',
  checked_at timestamptz,
  created_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_by_token ON web_sessions (token_id) WHERE token_id IS NOT NULL;
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);

-- Values the web side generates once and every instance shares: the key that signs cookies
-- (sealed with the secret box when one is set).
CREATE TABLE web_settings (
  name text PRIMARY KEY,
  value text NOT NULL
);
