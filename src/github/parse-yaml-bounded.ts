import { once } from "node:events";
import { Worker } from "node:worker_threads";

/** A YAML file that could not be turned into a value, and why (the message names the file's problem). */
export class YamlProblem extends Error {}

/** How long one file may take to parse (generous: a busy machine must not turn a valid file invalid), and how much memory its parser may use. */
const LIMITS = { timeoutMs: 10_000, heapMb: 64 };

type Answer = { ok: true; value: unknown } | { ok: false; message: string };

let parser: Promise<Worker> | undefined;
let queue: Promise<unknown> = Promise.resolve();

/** The parsing thread, started on first use and kept (it does not keep the process alive). */
function startParser(heapMb: number): Promise<Worker> {
  parser ??= (async () => {
    const worker = new Worker(new URL("./parse-yaml.worker.ts", import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
    });
    worker.unref();
    await once(worker, "message");
    return worker;
  })();
  return parser;
}

/**
 * Parses YAML in a worker thread, so that a hostile or huge file costs at most `timeoutMs` of a
 * thread that answers nobody: the `yaml` parser is not linear (4,000 keys take about a second, deep
 * flow nesting more), and on the event loop that second would hold every request and drain. A file
 * that runs past the limit (or out of memory) is refused, and its thread replaced.
 */
export function parseYamlBounded(text: string, limits = LIMITS): Promise<unknown> {
  const parsed = queue.then(async () => {
    const worker = await startParser(limits.heapMb);
    const answer = new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        parser = undefined;
        void worker.terminate();
        reject(new YamlProblem(`took longer than ${limits.timeoutMs / 1000} s to parse`));
      }, limits.timeoutMs);
      const settle = (result: () => void) => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        result();
      };
      const onMessage = (message: Answer) => settle(() => resolve(message));
      // ERR_WORKER_OUT_OF_MEMORY: the file expands beyond any sane configuration.
      const onError = (error: Error) => {
        parser = undefined;
        settle(() => reject(new YamlProblem(`could not be parsed: ${error.message}`)));
      };
      worker.on("message", onMessage);
      worker.once("error", onError);
    });
    worker.postMessage(text);
    const message = await answer;
    if (!message.ok) throw new YamlProblem(`invalid YAML: ${message.message.split("\n")[0]}`);
    return message.value;
  });
  queue = parsed.catch(() => {});
  return parsed;
}
