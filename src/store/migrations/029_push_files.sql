-- `paths` / `paths_ignore` (issue 25): the files a push changed, kept with its commits so that a
-- pull request's `synchronize` to the same head needs no compare. NULL: not known for sure (more
-- than 300 files, 2048 commits or more, a force push), and then the environment is built.
ALTER TABLE push_commits ADD COLUMN files jsonb;
