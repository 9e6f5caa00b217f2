-- The activity list's `alerts=only` filter (issue 22 item 17) reads a project's alerts newest first:
-- without this index it walks every activity of the project to find the few that are alerts. The
-- types are ALERT_TYPES (src/activity/activity.ts), which listActivities passes as a parameter;
-- each statement is planned with its values, so the planner proves the index's condition (a test
-- explains the statement: test/integration/alert-filter-index.test.ts).
CREATE INDEX activities_alerts_by_project ON activities (project_id, seq DESC)
  WHERE type IN ('integration.disabled', 'integration.delivery.failed', 'environment.runner.timeout',
    'integration.github.config');
