-- A test delivery (`POST …/integrations/{id}/test`, Kudu's publish) is kept in the delivery log with
-- its attempt, marked as a test (issue 22): it is not counted among the integration's deliveries
-- or its success rate, and a bulk redeliver never sends it again.
ALTER TABLE deliveries ADD COLUMN test boolean NOT NULL DEFAULT false;
