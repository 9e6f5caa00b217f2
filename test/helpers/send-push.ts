import { randomUUID } from "node:crypto";
import { sign } from "@octokit/webhooks-methods";
import { pushCreatingMaster } from "../fixtures/github-events.ts";

/** Sends a real example payload, signed as GitHub signs it, to envhooks' webhook endpoint. */
export async function sendPush(url: string, secret: string): Promise<Response> {
  const body = JSON.stringify(pushCreatingMaster());
  return fetch(`${url}/api/github/webhooks`, {
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": await sign(secret, body),
    },
  });
}
