-- One-time messages of a browser session (issue 22): what a form's POST has to show once (a new
-- integration's signing secret, a new token) waits here for the page its redirect opens
-- (POST/redirect/GET), and is deleted as that page reads it. Sealed with the secret box: it may
-- hold a secret. Bound to the session that made it; it ends with the session.
CREATE TABLE web_flashes (
  id text PRIMARY KEY,
  session_id text NOT NULL REFERENCES web_sessions (id) ON DELETE CASCADE,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX web_flashes_by_age ON web_flashes (created_at);
