-- The GitHub event page lists the activities a delivery produced (and search finds an activity by the
-- GitHub delivery it came from): one index lookup instead of a scan of the project's activities.
CREATE INDEX activities_by_github_delivery ON activities (github_delivery_id) WHERE github_delivery_id IS NOT NULL;
