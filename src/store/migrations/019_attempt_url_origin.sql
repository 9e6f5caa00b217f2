-- A webhook's URL may be a capability (a secret path, a token in the query): the attempt log keeps
-- its origin and a masked path, as it does for chat channels (src/relay/delivery-request.ts).
-- Attempts logged before then kept the URL as sent. They are rewritten in the background, in
-- small batches (src/store/attempt-urls.ts), not here: one UPDATE of the whole log held every
-- starting instance behind the migration lock for as long as it took (47 s for a million
-- attempts). This row is the job's: it remembers how far the rewrite got, and goes once it is
-- done; while it is here, the API shows every attempt's URL as its origin, to writers too.
INSERT INTO background_jobs (name) VALUES ('mask-attempt-urls');
