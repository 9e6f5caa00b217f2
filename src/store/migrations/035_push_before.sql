-- Where a kept push started: a pull request's `synchronize` takes a push's files and commits only
-- when it started at the same commit (a fast-forward of another branch to the same head lists
-- other changes). NULL for pushes kept before this column: not known, compared instead.
ALTER TABLE push_commits ADD COLUMN before_sha text;
