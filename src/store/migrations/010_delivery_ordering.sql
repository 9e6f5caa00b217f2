-- Deliveries are sent in order per environment, not per integration (issue 16): each delivery
-- carries its order key, the name of its activity's environment. Activities about no environment
-- (an invalid .github/envhooks.yml, a sample sent by `test`) share the empty key: they keep their
-- order among themselves and never hold back an environment. Names are never empty, so '' is free.
ALTER TABLE deliveries ADD COLUMN order_key text NOT NULL DEFAULT '';

-- Deliveries still to send get their environment's key; those sent or failed for good are never
-- ordered again (a redelivered one goes in the shared lane: it is sent out of turn anyway).
UPDATE deliveries d SET order_key = a.environment
FROM activities a
WHERE d.state = 'pending' AND a.id = d.activity_id AND a.environment IS NOT NULL;

-- Each key's oldest pending delivery, one index probe per key: the drain walks the keys
-- (a loose index scan) to find the deliveries it may send now.
CREATE INDEX deliveries_pending_by_key ON deliveries (integration_id, order_key, seq) WHERE state = 'pending';

-- Every integration says how its deliveries are ordered and how many may be in flight at once
-- (integration.schema.ts gives new ones the same defaults): in order per environment; 16 at once
-- for webhooks, fewer where a chat service rate-limits each channel.
UPDATE integrations SET config = jsonb_build_object(
  'ordering', 'environment',
  'concurrency', CASE type WHEN 'webhook' THEN 16 WHEN 'mattermost' THEN 4 WHEN 'teams' THEN 2 ELSE 1 END
) || config;
