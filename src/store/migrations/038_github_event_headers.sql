-- Issue 27: a GitHub delivery's page shows the request's headers, as GitHub's Recent Deliveries does.
-- Only GitHub's own headers are kept (an allow-list at intake), never anything a proxy added.
ALTER TABLE github_events ADD COLUMN request_headers jsonb;
