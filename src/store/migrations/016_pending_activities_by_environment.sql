-- A new activity of an environment with `runner: external` cancels the environment's older
-- pending ones: found through this small index (pending activities are few at any time).
CREATE INDEX activities_pending_by_environment ON activities (project_id, environment) WHERE state = 'pending';
