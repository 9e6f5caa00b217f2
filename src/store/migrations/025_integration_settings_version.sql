-- Issue 26: applying GitHub events keeps each project's receiving integrations between batches and
-- reads only this counter to know whether they may have changed. Every statement that changes
-- what a delivery is written from (an integration added, removed, edited, paused, moved with its
-- project) moves it on, whichever instance runs it; leases and attempt summaries do not.
CREATE TABLE integration_settings_version (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  version bigint NOT NULL
);
INSERT INTO integration_settings_version (version) VALUES (0);
-- Versions come from a sequence, never `version + 1`: a bump rolled back must not be issued again
-- to a later change, or a list cached under the rolled-back number would pass for current.
CREATE SEQUENCE integration_settings_version_seq;

CREATE FUNCTION bump_integration_settings_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE integration_settings_version SET version = nextval('integration_settings_version_seq');
  RETURN NULL;
END
$$;

CREATE TRIGGER integration_settings_changed
  AFTER INSERT OR DELETE OR TRUNCATE
    OR UPDATE OF project_key, owner, type, config, status, secret, previous_secret
  ON integrations FOR EACH STATEMENT EXECUTE FUNCTION bump_integration_settings_version();
