-- A webhook's URL may be a capability (a secret path, a token in the query): the attempt log keeps
-- its origin and a masked path, as it does for chat channels (src/relay/delivery-request.ts).
-- Attempts logged before then kept the URL as sent.
UPDATE delivery_attempts a
SET url = regexp_replace(a.url, '^([a-z][a-z0-9+.-]*://)(?:[^/?#@]*@)?([^/?#]*).*$', '\1\2/********', 'i')
FROM deliveries d JOIN integrations g ON g.id = d.integration_id
WHERE a.delivery_id = d.id AND g.type = 'webhook'
  AND a.url !~* '^[a-z][a-z0-9+.-]*://[^/?#@]*/\*{8}$';
