-- An integration's last 24 hours at a glance (src/store/integration-health.ts): its deliveries
-- by creation time, without walking its whole log.
CREATE INDEX deliveries_by_integration_age ON deliveries (integration_id, created_at);
