import { sign } from "@octokit/webhooks-methods";
import { expect } from "vitest";
import { pushTo } from "../fixtures/github-events.ts";
import type { Received, Receiver } from "../helpers/receiver.ts";

export const SECRET = "chaos-secret";
export const TOKEN = "chaos-token-0123456789abcdef0123456789";

export interface GithubDelivery {
  id: string;
  repo: string;
  body: string;
  signature: string;
}

/** `count` signed pushes spread over `repos` repositories, round-robin, each with its own delivery id. */
export async function signedPushes(
  repos: string[],
  count: number,
  prefix: string,
): Promise<GithubDelivery[]> {
  const deliveries: GithubDelivery[] = [];
  for (let n = 0; n < count; n++) {
    const repo = repos[n % repos.length] as string;
    const body = JSON.stringify(pushTo(repo, Math.floor(n / repos.length)));
    deliveries.push({ id: `${prefix}-${n}`, repo, body, signature: await sign(SECRET, body) });
  }
  return deliveries;
}

/** Posts one delivery as GitHub does; the status, or 0 when the connection failed. */
export async function post(url: string, delivery: GithubDelivery): Promise<number> {
  try {
    const response = await fetch(`${url}/api/github/webhooks`, {
      method: "POST",
      body: delivery.body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": delivery.id,
        "x-hub-signature-256": delivery.signature,
      },
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    if (process.env.CHAOS_DEBUG) console.log("[chaos] post failed", error);
    return 0;
  }
}

/**
 * Sends `deliveries` with `concurrency` requests in flight; `target(n)` picks the server for the
 * n-th. Stops sending when `stop()` turns true. Returns each delivery's status (0: no answer, or
 * never sent).
 */
export async function burst(
  deliveries: GithubDelivery[],
  target: (n: number) => string,
  {
    concurrency = 16,
    stop = () => false,
    onAnswer = () => {},
  }: { concurrency?: number; stop?: () => boolean; onAnswer?: (status: number) => void } = {},
): Promise<Map<string, number>> {
  const statuses = new Map<string, number>();
  let next = 0;
  async function lane() {
    while (next < deliveries.length && !stop()) {
      const n = next++;
      const delivery = deliveries[n] as GithubDelivery;
      const status = await post(target(n), delivery);
      statuses.set(delivery.id, status);
      onAnswer(status);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
  return statuses;
}

export async function api(url: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Adds a webhook integration for each receiver to each repository. */
export async function subscribe(url: string, repos: string[], receivers: Receiver[], extra: object = {}) {
  for (const repo of repos) {
    for (const receiver of receivers) {
      const response = await api(url, `/api/projects/${repo}/integrations`, {
        type: "webhook",
        url: receiver.url,
        retry_schedule: [1, 1, 1, 2, 2, 5, 5, 10, 10, 10],
        ...extra,
      });
      expect(response.status, await response.clone().text()).toBe(201);
    }
  }
}

/** What one receiver got, by GitHub delivery: every copy of the activity it caused. */
export function byGithubDelivery(receiver: Receiver): Map<string, Received[]> {
  const copies = new Map<string, Received[]>();
  for (const request of receiver.received) {
    const id = JSON.parse(request.body).github?.delivery_id as string;
    copies.set(id, [...(copies.get(id) ?? []), request]);
  }
  return copies;
}

export interface Accounting {
  expected: number;
  received: number;
  missing: string[];
  duplicates: number;
  /** Copies of one activity that did not carry the same webhook-id. */
  differentIds: number;
  /** Two copies of one delivery that were in flight at the same time. */
  concurrent: number;
}

/** The exact account of what `receivers` got for the acknowledged GitHub deliveries. */
export function account(receivers: Receiver[], acknowledged: string[]): Accounting {
  const result: Accounting = {
    expected: acknowledged.length * receivers.length,
    received: 0,
    missing: [],
    duplicates: 0,
    differentIds: 0,
    concurrent: 0,
  };
  for (const receiver of receivers) {
    const copies = byGithubDelivery(receiver);
    result.received += receiver.received.length;
    for (const id of acknowledged) {
      const got = copies.get(id) ?? [];
      if (got.length === 0) result.missing.push(`${receiver.url} ${id}`);
      result.duplicates += Math.max(0, got.length - 1);
      if (new Set(got.map((request) => request.headers["webhook-id"])).size > 1) result.differentIds++;
      const spans = got.map((request) => [request.startedAt, request.answeredAt ?? Infinity] as const);
      spans.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < spans.length; i++) {
        if ((spans[i]?.[0] ?? 0) < (spans[i - 1]?.[1] ?? 0)) result.concurrent++;
      }
    }
  }
  return result;
}

/**
 * Waits until every receiver has a copy of the activity of each GitHub delivery in `ids`, or
 * `timeoutMs` passed. Copies are counted once: duplicates (sent again after a crash or an outage)
 * would otherwise make up for deliveries still missing.
 */
export async function receivedEach(receivers: Receiver[], ids: string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  // Each request is parsed once, however long the wait: the machine is busy with the server.
  const seen = receivers.map(() => ({ parsed: 0, ids: new Set<string>() }));
  const complete = () =>
    receivers.every((receiver, n) => {
      const got = seen[n] as { parsed: number; ids: Set<string> };
      for (; got.parsed < receiver.received.length; got.parsed++) {
        const request = receiver.received[got.parsed] as Received;
        got.ids.add(JSON.parse(request.body).github?.delivery_id);
      }
      return ids.every((id) => got.ids.has(id));
    });
  while (Date.now() < deadline && !complete()) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
