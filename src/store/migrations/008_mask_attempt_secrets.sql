-- Attempts recorded before envhooks masked them kept the request as sent: an integration's
-- Authorization and custom header values, and credentials in its URL. Only envhooks' own headers
-- keep their values; user info and query parameters that name a credential are masked, as
-- src/relay/mask-secrets.ts does for new attempts.
UPDATE delivery_attempts SET request_headers = (
  SELECT jsonb_object_agg(h.name, CASE
    WHEN h.name ~* '^(content-type|user-agent|x-envhooks-.*|webhook-.*|x-shipway-.*)$' THEN h.value
    ELSE to_jsonb('********'::text) END)
  FROM jsonb_each(request_headers) AS h(name, value))
WHERE EXISTS (
  SELECT 1 FROM jsonb_object_keys(request_headers) AS k(name)
  WHERE k.name !~* '^(content-type|user-agent|x-envhooks-.*|webhook-.*|x-shipway-.*)$');

UPDATE delivery_attempts SET url = regexp_replace(
    regexp_replace(url, '^([a-z][a-z0-9+.-]*://)[^/?#@]*@', '\1********:********@', 'i'),
    '([?&](?:[^=&#]*(?:auth|token|secret|key|cookie|pass|pwd|sig|credential|session|bearer)[^=&#]*|code)=)[^&#]*',
    '\1********', 'gi')
WHERE url ~ '@|[?]';
