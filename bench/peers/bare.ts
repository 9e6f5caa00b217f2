// The physical-limit baseline of `npm run bench`: a node:http server that reads a GitHub delivery,
// verifies its X-Hub-Signature-256 and answers 202. No framework, no store, nothing kept.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

const secret = process.env.WEBHOOK_SECRET ?? "";

createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const expected = Buffer.from(
      `sha256=${createHmac("sha256", secret).update(Buffer.concat(chunks)).digest("hex")}`,
    );
    const given = Buffer.from(String(request.headers["x-hub-signature-256"] ?? ""));
    const valid = given.length === expected.length && timingSafeEqual(given, expected);
    response.writeHead(valid ? 202 : 401).end();
  });
}).listen(Number(process.env.PORT), "127.0.0.1");
