import type { Settings } from "../../config/env.schema.ts";
import type { Envhooks } from "../../envhooks.ts";

/**
 * The running envhooks behind one HTTP server, replaceable in place: when /setup has registered the
 * GitHub App, envhooks is stopped and started again with the App's settings on the same database,
 * without restarting the process or the server. Requests that arrive during the switch wait for
 * the new instance; the request that asked for the switch finishes on the old one.
 */
export interface EnvhooksHost {
  /** The HTTP handler to serve: always the current instance's. */
  fetch(request: Request, env?: object): Promise<Response>;
  current(): Envhooks;
  /**
   * Stops the current instance (its work stays in the store) and starts one with `github`; if that
   * start fails, the previous settings are started again and the error is thrown.
   */
  reconnect(github: Settings["github"]): Promise<Envhooks>;
}

export async function hostEnvhooks(
  start: (github: Settings["github"]) => Promise<Envhooks>,
  github: Settings["github"],
): Promise<EnvhooksHost> {
  let current = await start(github);
  let switching: Promise<unknown> = Promise.resolve();
  return {
    async fetch(request, env) {
      await switching;
      return current.app.fetch(request, env);
    },
    current: () => current,
    reconnect(next) {
      const done = switching.then(async () => {
        await current.stop();
        try {
          current = await start(next);
        } catch (error) {
          // Not left stopped: envhooks goes on as it was, and the caller hears why.
          current = await start(github);
          throw error;
        }
        github = next;
        return current;
      });
      switching = done.catch(() => undefined);
      return done;
    },
  };
}
