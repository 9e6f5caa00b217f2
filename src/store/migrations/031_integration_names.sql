-- An integration's name, as people call it ("Staging deploys"); NULL shows `type → host`
-- (src/relay/present-integration.ts integrationName).
ALTER TABLE integrations ADD COLUMN name text;
