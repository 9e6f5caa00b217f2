/** What a masked value shows. */
export const MASK = "********";

/** Header and query parameter names that suggest a credential (`Authorization`, `X-Api-Key`, `access_token`, `sig`…). */
const CREDENTIAL_NAME = /auth|token|secret|key|cookie|pass|pwd|sig|credential|session|bearer|^code$/i;

/** Headers envhooks sets itself: the signatures are HMACs of the body and reveal no secret. */
const ENVHOOKS_HEADER = /^(content-type|user-agent|x-envhooks-.*|webhook-.*|x-shipway-.*)$/i;

export const suggestsCredential = (name: string) => CREDENTIAL_NAME.test(name);

/**
 * A URL as logs and API answers may show it: user info and query parameters whose names suggest a
 * credential are masked (`https://********:********@host/?api_key=********`).
 */
export function maskUrlCredentials(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return MASK;
  }
  if (parsed.username) parsed.username = MASK;
  if (parsed.password) parsed.password = MASK;
  const names = [...new Set(parsed.searchParams.keys())].filter(suggestsCredential);
  for (const name of names) parsed.searchParams.set(name, MASK);
  return parsed.href;
}

/** Headers as an API answer shows them: values of those whose names suggest a credential are masked. */
export function maskCredentialHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      suggestsCredential(name) && !ENVHOOKS_HEADER.test(name) ? MASK : value,
    ]),
  );
}

/**
 * Request headers as the attempt log stores them: only envhooks' own are kept; every other value
 * (an integration's custom headers, HipChat's bearer token) is masked.
 */
export function maskSentHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, ENVHOOKS_HEADER.test(name) ? value : MASK]),
  );
}
