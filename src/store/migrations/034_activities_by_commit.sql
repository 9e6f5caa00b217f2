-- Search finds a commit's activities by a prefix of its sha (7 to 40 hex digits): a range on this index.
CREATE INDEX activities_by_new_commit ON activities ((body -> 'parameters' ->> 'new_commit'));
