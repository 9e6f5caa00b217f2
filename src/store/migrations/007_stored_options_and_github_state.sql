-- The repository's options are kept with the project and read from GitHub again only when they may
-- have changed. `config` keeps the last valid options; `config_problems` says why the current file is
-- invalid (null when it is valid); `config_sources` lists the files they came from (the repository's
-- own, the owner's `.github` repository, `_extends`), each with the ETag and blob sha read, so that a
-- revalidation is a conditional request and a push to a base file finds the projects that use it.
ALTER TABLE projects ADD COLUMN config_problems jsonb;
ALTER TABLE projects ADD COLUMN config_sources jsonb;
ALTER TABLE projects ADD COLUMN config_checked_at timestamptz;
-- Set when the options may have changed (a push to a file they come from, an installation event):
-- the project's next event reads them again before it is applied. Projects from before this
-- migration start stale: their options were never kept with a version.
ALTER TABLE projects ADD COLUMN config_stale boolean NOT NULL DEFAULT true;
-- Counts the marks: a read that began before a mark does not clear it when it is saved.
ALTER TABLE projects ADD COLUMN config_generation integer NOT NULL DEFAULT 0;

-- GitHub updates are coalesced per environment: the newest state of each supersedes older ones.
ALTER TABLE github_tasks ADD COLUMN environment text;
-- What a drain did with a task: sent, or superseded by a newer state before it was sent.
ALTER TABLE github_tasks ADD COLUMN outcome text;
CREATE INDEX github_tasks_pending_age ON github_tasks (created_at) WHERE state = 'pending';
-- How busy an environment's updates are: a burst is sent once it quiets down.
CREATE INDEX github_tasks_by_environment ON github_tasks (project_key, environment, created_at);

-- What GitHub shows of each activity: its deployment (when deployments are on) with the last state
-- sent to it, and the last commit status sent for it. A state GitHub shows already is not sent again,
-- and a superseded activity that GitHub shows still gets its final state.
ALTER TABLE github_deployments ALTER COLUMN deployment_id DROP NOT NULL;
ALTER TABLE github_deployments ADD COLUMN deployment_state text;
ALTER TABLE github_deployments ADD COLUMN commit_state text;
CREATE INDEX github_deployments_by_environment ON github_deployments (project_key, environment, created_at);

-- The commits of each push, by the head commit it moved a branch to: a pull request's `synchronize`
-- for the same head takes its commits from here instead of asking GitHub.
CREATE TABLE push_commits (
  project_key text NOT NULL,
  head_sha text NOT NULL,
  commits jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_key, head_sha)
);
CREATE INDEX push_commits_by_age ON push_commits (created_at);
