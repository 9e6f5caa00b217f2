// Parses YAML texts off the main thread for parseYamlBounded(): one message in, one answer out,
// the value or the parser's message. Its first message says it is ready, so that the time it takes
// to start is not counted against a file.
import { parentPort } from "node:worker_threads";
import { parse } from "yaml";

parentPort?.on("message", (text: string) => {
  try {
    // maxAliasCount: aliases that expand without bound (a "billion laughs" file) are refused.
    const value: unknown = parse(text, { logLevel: "error", maxAliasCount: 100 });
    parentPort?.postMessage({ ok: true, value });
  } catch (error) {
    parentPort?.postMessage({ ok: false, message: (error as Error).message });
  }
});
parentPort?.postMessage({ ready: true });
