-- A GitHub delivery whose application failed waits until this time before it is tried again;
-- the project's later deliveries wait behind it, so their order is kept.
ALTER TABLE github_events ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX github_events_due ON github_events (next_attempt_at) WHERE state = 'pending';
