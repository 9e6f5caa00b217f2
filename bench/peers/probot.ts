// The peer a user would otherwise write: a plain Probot 14 app with a no-op push handler, served by
// Probot's own createNodeMiddleware on node:http. Probot verifies the signature and answers once
// the handlers have run; it keeps nothing.
import { generateKeyPairSync } from "node:crypto";
import { createServer } from "node:http";
import { createNodeMiddleware, createProbot } from "probot";

const { privateKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});
const probot = createProbot({
  overrides: { appId: 1, privateKey, secret: process.env.WEBHOOK_SECRET ?? "" },
});
const middleware = await createNodeMiddleware(
  (app) => {
    app.on("push", async () => {});
  },
  { probot },
);
createServer((request, response) => {
  void middleware(request, response, () => response.writeHead(404).end());
}).listen(Number(process.env.PORT), "127.0.0.1");
