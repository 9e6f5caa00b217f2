-- A new activity of an environment with `runner: external` cancels the environment's older
-- pending ones: found through this small index (pending activities are few at any time).
CREATE INDEX activities_pending_by_environment ON activities (project_id, environment) WHERE state = 'pending';

-- Owner-wide integrations receive the activities of every repository of a GitHub owner
-- (lower case): their project_key is `owner/*`, which no project has.
ALTER TABLE integrations ADD COLUMN owner text;
CREATE INDEX integrations_by_owner ON integrations (owner) WHERE owner IS NOT NULL;
