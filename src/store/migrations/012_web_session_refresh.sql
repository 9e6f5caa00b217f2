-- GitHub Apps' user tokens expire (8 hours, when the App's "Expire user authorization tokens" is
-- on): a session keeps the refresh token GitHub gave with it (sealed like the token, or not at all)
-- and when the token runs out, so it can get a new one instead of ending at the next check.
ALTER TABLE web_sessions ADD COLUMN refresh_token text;
ALTER TABLE web_sessions ADD COLUMN token_expires_at timestamptz;
