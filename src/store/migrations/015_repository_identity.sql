-- Projects follow their GitHub repository (issue 18): each is keyed by the repository's id, filled
-- from every event's `repository.id` (projects from before have it filled at their next event).
-- `key` (the lower-cased owner/repo) stays what the other tables refer to: a rename or transfer
-- moves the project to its new key in one transaction, with everything that names it.
ALTER TABLE projects ADD COLUMN repository_id bigint UNIQUE;

-- A repository deleted, or taken out of the App's installation, deactivates its project: its history
-- stays, nothing new is relayed for it, and a later event of the same repository reactivates it.
ALTER TABLE projects ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive'));
ALTER TABLE projects ADD COLUMN deactivated_at timestamptz;
ALTER TABLE projects ADD COLUMN deactivated_reason text;

-- The names a project had before a rename or transfer: the API answers them with a pointer to the
-- project's name now, until a project (another repository) takes the name.
CREATE TABLE project_former_names (
  key text PRIMARY KEY,
  full_name text NOT NULL,
  project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  moved_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX project_former_names_by_project ON project_former_names (project_id);
