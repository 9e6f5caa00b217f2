-- Several instances on one PostgreSQL: a project's GitHub updates are sent by one instance at a
-- time, like an integration's deliveries (integrations.lease_owner / lease_until).
ALTER TABLE projects ADD COLUMN github_lease_owner text;
ALTER TABLE projects ADD COLUMN github_lease_until timestamptz;
-- Queue depth and the age of the oldest pending delivery, read at every metrics scrape.
CREATE INDEX deliveries_pending_age ON deliveries (created_at) WHERE state = 'pending';
