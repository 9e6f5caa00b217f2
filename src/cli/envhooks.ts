#!/usr/bin/env node
// The envhooks CLI: the API from a terminal, in Platform.sh's and Divshot's words.
import { createHmac, randomUUID } from "node:crypto";
import Table from "cli-table3";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import packageJson from "../../package.json" with { type: "json" };
import { branchEnvironmentName } from "../lifecycle/plan-transitions.ts";
import {
  type Api,
  apiClient,
  CliError,
  type Connection,
  envFileSource,
  readConfig,
  readServerEnvFile,
  resolveConnection,
  resolveProject,
  writeConfig,
} from "./client.ts";
import { SIMULATED_EVENTS, type SimulatedEvent, simulatedPayload } from "./simulated-events.ts";

type Row = Record<string, unknown>;

// The .env the server reads (npm start: the working folder's; ENVHOOKS_ENV_FILE): its token, URL and
// webhook secret count below flags and variables set in the environment.
const serverEnv = readServerEnvFile();
if (!process.env.WEBHOOK_SECRET && serverEnv.vars.WEBHOOK_SECRET)
  process.env.WEBHOOK_SECRET = serverEnv.vars.WEBHOOK_SECRET;

const program = new Command("envhooks")
  .description("Manage envhooks integrations, environments and activities on a running server.")
  .version(packageJson.version)
  .addOption(
    new Option("--url <url>", "the envhooks server (default: http://localhost:3000)").env("ENVHOOKS_URL"),
  )
  .addOption(
    new Option(
      "--token <token>",
      "an API token: the operator's (ENVHOOKS_API_TOKEN, also read from the environment and the server's .env) or a project token",
    ).env("ENVHOOKS_TOKEN"),
  )
  .addOption(
    new Option("-p, --project <owner/repo>", "the project (default: this checkout's GitHub origin)").env(
      "ENVHOOKS_PROJECT",
    ),
  )
  .addOption(
    new Option(
      "--owner <owner>",
      "integration:* and delivery:list act on this GitHub owner's owner-wide integrations (operator token)",
    ),
  )
  .showHelpAfterError()
  .exitOverride();

/** Flags and environment first, then the server's .env, then what `envhooks login` saved. */
function connection(): Connection {
  const options = program.opts<{ url?: string; token?: string }>();
  return resolveConnection(
    { url: options.url, token: options.token ?? (process.env.ENVHOOKS_API_TOKEN || undefined) },
    envFileSource(serverEnv.vars),
    readConfig(),
  );
}
const api = (): Api => apiClient(connection());
const project = () => resolveProject(program.opts<{ project?: string }>().project);
const integrations = () => {
  const owner = program.opts<{ owner?: string }>().owner;
  return owner
    ? `/api/owners/${encodeURIComponent(owner)}/integrations`
    : `/api/projects/${project()}/integrations`;
};

/**
 * A project's listing, or "no such project" when it is empty because envhooks knows no project of
 * that name (no event from it, and no integration): the API answers an empty list for any name, as
 * integrations may be added before a repository's first event. Owner-wide listings are left alone.
 */
async function projectListing<T>(path: string, items: (answer: T) => unknown[], empty: T): Promise<T> {
  const client = api();
  const name = /^\/api\/projects\/([^/]+\/[^/?]+)\//.exec(path)?.[1];
  const notFound = (error: unknown) => error instanceof CliError && error.message.startsWith("404");
  let answer: T;
  try {
    answer = await client<T>(path);
  } catch (error) {
    // Environments and activities answer 404 before a project's first event.
    if (!name || !notFound(error)) throw error;
    answer = empty;
  }
  if (!name || items(answer).length > 0) return answer;
  try {
    await client(`/api/projects/${name}`);
    return answer;
  } catch (error) {
    if (!notFound(error)) throw error;
  }
  const ownIntegrations = `/api/projects/${name}/integrations`;
  if (path !== ownIntegrations && (await client<Row[]>(ownIntegrations)).length > 0) return answer;
  throw new CliError(
    `no such project: ${name} (envhooks has received no event from it and it has no integration). ` +
      "Check --project: the repository's owner/name on GitHub.",
  );
}

/** Prints rows as a table, or as JSON with --json. */
function print(rows: Row[], columns: string[], json: boolean | undefined) {
  if (json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  if (rows.length === 0) {
    console.log("(none)");
    return;
  }
  // Colours on a terminal only: piped output stays plain text.
  const colour = process.stdout.isTTY === true;
  const table = new Table({
    head: columns,
    style: { head: colour ? ["cyan"] : [], border: colour ? ["grey"] : [] },
  });
  for (const row of rows) table.push(columns.map((column) => format(row[column])));
  console.log(table.toString());
}

function format(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(", ");
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

const list = (value: string, previous: string[] = []) => [...previous, ...value.split(",").filter(Boolean)];

/** The integration fields set by options, for add and update. */
function integrationFields(options: Row): Row {
  const fields: Row = {
    url: options.url,
    secret: options.secret,
    events: options.events,
    states: options.states,
    results: options.results,
    projects: options.projects,
    environments: options.environments,
    excluded_environments: options.excludedEnvironments,
    format: options.format,
    ordering: options.ordering,
    concurrency: options.concurrency,
    room: options.room,
    token: options.roomToken,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

function withIntegrationOptions(command: Command): Command {
  return command
    .option("--url <url>", "the receiver (chat: the channel's webhook URL; HipChat: the server)")
    .option("--secret <secret>", "webhook signing secret (generated when omitted)")
    .option("--events <types>", "activity types, comma separated, * globs", list)
    .option("--states <states>", "pending, in_progress, complete, cancelled", list)
    .option("--results <results>", "success, failure (failure: a failures-only channel)", list)
    .option("--projects <names>", "with --owner: repositories to receive, * globs (api-*)", list)
    .option("--environments <names>", "environment names, * globs", list)
    .option("--excluded-environments <names>", "environment names never sent", list)
    .option("--format <format>", "platformsh, dockership, kudu, divshot or shipway")
    .option("--ordering <ordering>", "deliveries in turn per environment, integration, or none")
    .option("--concurrency <n>", "deliveries in flight at once (1-64)", (value) => Number(value))
    .option("--room <room>", "HipChat room")
    .option("--room-token <token>", "HipChat room notification token");
}

const INTEGRATION_COLUMNS = ["id", "type", "url", "status", "events", "states", "last_status"];

withIntegrationOptions(
  program
    .command("integration:add")
    .description("Add an integration to the project")
    .addOption(
      new Option("--type <type>", "integration type")
        .choices(["webhook", "slack", "discord", "teams", "mattermost", "googlechat", "hipchat"])
        .default("webhook"),
    ),
).action(async (options: Row) => {
  const created = await api()<Row>(integrations(), {
    body: { type: options.type, ...integrationFields(options) },
  });
  console.log(`Created integration ${created.id}.`);
  if (created.secret && created.secret !== "********") console.log(`Secret (shown once): ${created.secret}`);
});

program
  .command("integration:list")
  .alias("integrations")
  .description("List the project's integrations")
  .option("--json", "print JSON")
  .action(async (options: { json?: boolean }) => {
    print(await projectListing<Row[]>(integrations(), (rows) => rows, []), INTEGRATION_COLUMNS, options.json);
  });

program
  .command("integration:get <id>")
  .description("Show one integration")
  .option("--property <name>", "print only this property")
  .option("--json", "print JSON")
  .action(async (id: string, options: { property?: string; json?: boolean }) => {
    const integration = await api()<Row>(`${integrations()}/${id}`);
    if (options.property) {
      if (!(options.property in integration)) throw new CliError(`No property "${options.property}".`, 2);
      console.log(format(integration[options.property]));
      return;
    }
    if (options.json) console.log(JSON.stringify(integration, null, 2));
    else
      print(
        [integration],
        Object.keys(integration).filter((k) => k !== "last_context"),
        false,
      );
  });

withIntegrationOptions(
  program.command("integration:update <id>").description("Change an integration"),
).action(async (id: string, options: Row) => {
  const fields = integrationFields(options);
  if (Object.keys(fields).length === 0) throw new CliError("Nothing to change: pass at least one option.", 2);
  await api()(`${integrations()}/${id}`, { method: "PATCH", body: fields });
  console.log(`Updated integration ${id}.`);
});

program
  .command("integration:delete <id>")
  .description("Delete an integration and its delivery log")
  .action(async (id: string) => {
    await api()(`${integrations()}/${id}`, { method: "DELETE" });
    console.log(`Deleted integration ${id}.`);
  });

program
  .command("integration:validate <id>")
  .description("Send a test delivery now and show how the receiver answered")
  .action(async (id: string) => {
    const sent = await api()<{ state: string; attempt_log: Row[] }>(`${integrations()}/${id}/test`, {
      method: "POST",
    });
    const attempt = sent.attempt_log[0] ?? {};
    console.log(
      `Test delivery ${sent.state}: ${attempt.status_code ?? attempt.error} in ${attempt.duration_ms} ms.`,
    );
    if (sent.state !== "delivered") process.exitCode = 1;
  });

// Divshot's words for webhooks.
program
  .command("hooks:add <url>")
  .description("Add a webhook (Divshot style)")
  .action(async (url: string) => {
    const created = await api()<Row>(integrations(), { body: { type: "webhook", url } });
    console.log(`Added hook ${created.id} → ${url}`);
    console.log(`Secret (shown once): ${created.secret}`);
  });

program
  .command("hooks")
  .description("List webhooks (Divshot style)")
  .option("--json", "print JSON")
  .action(async (options: { json?: boolean }) => {
    const hooks = (await projectListing<Row[]>(integrations(), (rows) => rows, [])).filter(
      (i) => i.type === "webhook",
    );
    print(hooks, ["id", "url", "status", "last_status", "last_datetime"], options.json);
  });

for (const [verb, action] of [
  ["remove", "DELETE"],
  ["pause", "pause"],
  ["resume", "resume"],
] as const) {
  program
    .command(`hooks:${verb} <id>`)
    .description(`${verb[0]?.toUpperCase()}${verb.slice(1)} a webhook (Divshot style)`)
    .action(async (id: string) => {
      if (action === "DELETE") await api()(`${integrations()}/${id}`, { method: "DELETE" });
      else await api()(`${integrations()}/${id}/${action}`, { method: "POST" });
      console.log(`Hook ${id}: ${verb === "remove" ? "removed" : `${verb}d`}.`);
    });
}

program
  .command("resync")
  .argument("[owner/repo]", "the repository (default: --project, or this checkout's GitHub origin)")
  .description(
    "Resync a project with GitHub: create, rebuild or delete environments to match its branches and open pull requests",
  )
  .option("--dry-run", "show the plan without changing anything")
  .option("--json", "print JSON")
  .action(async (repository: string | undefined, options: { dryRun?: boolean; json?: boolean }) => {
    const target = resolveProject(repository ?? program.opts<{ project?: string }>().project);
    const result = await api()<Row & { plan: Row[]; notes: string[] }>(
      `/api/projects/${target}/resync${options.dryRun ? "?dry_run=true" : ""}`,
      { method: "POST" },
    );
    if (options.json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    const pulls =
      result.pull_requests === null
        ? "pull requests not listed"
        : `${result.pull_requests} open pull requests`;
    console.log(
      `${options.dryRun ? "Plan for" : "Resynced"} ${result.project}: ${result.branches} branches, ${pulls} (${result.github_requests} GitHub requests).`,
    );
    const identity = result.identity as { description: string } | null;
    if (identity) console.log(`Identity change: ${identity.description}`);
    print(result.plan, ["action", "environment", "reason"], false);
    for (const note of result.notes) console.log(`- ${note}`);
    if (options.dryRun && result.plan.length > 0)
      console.log("Nothing was changed: run it without --dry-run to apply.");
  });

program
  .command("environment:list")
  .alias("environments")
  .description("List the project's environments")
  .option("--json", "print JSON")
  .action(async (options: { json?: boolean }) => {
    const environments = await projectListing<Row[]>(
      `/api/projects/${project()}/environments`,
      (rows) => rows,
      [],
    );
    print(environments, ["name", "machine_name", "status", "parent", "head_commit"], options.json);
  });

program
  .command("activity:list")
  .alias("activities")
  .description("List the project's activities, newest first")
  .option("--type <type>", "only this type, e.g. environment.push")
  .option("--state <state>", "only this state")
  .option("--json", "print JSON")
  .action(async (options: { type?: string; state?: string; json?: boolean }) => {
    const query = new URLSearchParams({ limit: "50" });
    if (options.type) query.set("type", options.type);
    if (options.state) query.set("state", options.state);
    const { items } = await projectListing<{ items: Row[] }>(
      `/api/projects/${project()}/activities?${query}`,
      (page) => page.items,
      { items: [] },
    );
    print(
      items.map((a) => ({ ...a, environment: (a.parameters as Row | undefined)?.environment })),
      ["id", "type", "environment", "state", "result", "created_at"],
      options.json,
    );
  });

program
  .command("login")
  .description("Check the server and token (--url, --token) and save them for later commands")
  .action(async () => {
    const { url, token } = connection();
    if (!token) throw new CliError("Pass --token (or set ENVHOOKS_TOKEN) to log in.", 2);
    try {
      await apiClient({ url, token })("/api/tokens");
    } catch (error) {
      // A project token may not list tokens (403), but it was recognised; 401 means it was not.
      if (!(error instanceof CliError) || !error.message.startsWith("403")) throw error;
    }
    console.log(`Logged in to ${url}; saved in ${writeConfig({ url, token })}.`);
  });

program
  .command("activity:log <id>")
  .description("Print an activity's log")
  .action(async (id: string) => {
    const activity = await api()<{ log: string }>(`/api/activities/${id}`);
    console.log(activity.log);
  });

program
  .command("delivery:list <integration>")
  .alias("deliveries")
  .description("An integration's delivery log, newest first")
  .addOption(new Option("--status <status>", "only this state").choices(["pending", "delivered", "failed"]))
  .option("--json", "print JSON")
  .action(async (integration: string, options: { status?: string; json?: boolean }) => {
    const query = new URLSearchParams({
      limit: "100",
      ...(options.status ? { status: options.status } : {}),
    });
    const { items } = await api()<{ items: Row[] }>(`${integrations()}/${integration}/deliveries?${query}`);
    print(
      items,
      ["id", "event", "state", "attempts", "last_status", "last_error", "created_at"],
      options.json,
    );
  });

program
  .command("redeliver [delivery]")
  .description("Send a delivery again, or with --integration and --failed every failed one")
  .option("--integration <id>", "the integration whose deliveries to send again")
  .option("--failed", "every failed delivery of --integration")
  .action(async (delivery: string | undefined, options: { integration?: string; failed?: boolean }) => {
    if (delivery) {
      await api()(`/api/deliveries/${delivery}/redeliver`, { method: "POST" });
      console.log(`Delivery ${delivery} will be sent again.`);
      return;
    }
    if (!options.integration || !options.failed) {
      throw new CliError("Name a delivery, or pass --integration ID --failed.", 2);
    }
    const path = `${integrations()}/${options.integration}`;
    const { redelivered } = await api()<{ redelivered: number }>(`${path}/redeliver?status=failed`, {
      method: "POST",
    });
    await followRedelivery(api(), path, redelivered);
  });

/**
 * Shows bulk redelivery as it happens, until none of it is pending: a one-line bar on a terminal
 * (written here: a dozen characters redrawn with \r do not warrant a dependency), a summary elsewhere.
 */
async function followRedelivery(client: Api, path: string, total: number) {
  const bar = (done: number) => {
    const filled = total === 0 ? 20 : Math.round((done / total) * 20);
    return `[${"#".repeat(filled)}${"-".repeat(20 - filled)}] ${done}/${total}`;
  };
  const deadline = Date.now() + 60_000;
  let pending = total;
  while (pending > 0 && Date.now() < deadline) {
    const { items } = await client<{ items: Row[] }>(`${path}/deliveries?status=pending&limit=100`);
    pending = Math.min(total, items.length);
    if (process.stderr.isTTY) process.stderr.write(`\r${bar(total - pending)}`);
    if (pending > 0) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (process.stderr.isTTY) process.stderr.write("\n");
  console.log(
    `Redelivered ${total - pending} of ${total} failed deliveries${pending ? ` (${pending} still pending)` : ""}.`,
  );
}

program
  .command("simulate <event>")
  .description(
    "Sign a realistic GitHub event with WEBHOOK_SECRET and post it, as GitHub would. The event is marked as simulated (`envhooks_simulated: true`) and its repository gets an id of its own, 2^52 or more (a range GitHub does not use): a hash of --repo, or --repository-id",
  )
  .requiredOption("--repo <owner/repo>", "the repository")
  .option(
    "--repository-id <id>",
    "the repository's id (default: a stable hash of --repo from 2^52 up); the project follows it",
    (value) => {
      const id = Number(value);
      if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(id) || id < 1) {
        throw new InvalidArgumentError("expected a positive whole number (at most 2^53 - 1)");
      }
      return id;
    },
  )
  .option("--branch <branch>", "the branch", "feature-x")
  .option("--pr <number>", "the pull request number (pull_request)", (value) => Number.parseInt(value, 10), 1)
  .option("--action <action>", "the pull_request action", "opened")
  .option(
    "--changed <path>",
    "a file the push changed (repeat for more): what `paths` / `paths_ignore` filter on",
    (value: string, previous: string[] = []) => [...previous, value],
  )
  .addOption(new Option("--secret <secret>", "the webhook secret").env("WEBHOOK_SECRET"))
  .action(
    async (
      event: string,
      options: {
        repo: string;
        branch: string;
        pr: number;
        action: string;
        repositoryId?: number;
        secret?: string;
        changed?: string[];
      },
    ) => {
      if (!(SIMULATED_EVENTS as readonly string[]).includes(event)) {
        throw new CliError(`simulate sends ${SIMULATED_EVENTS.join(", ")}; not "${event}".`, 2);
      }
      if (!options.secret)
        throw new CliError("Set WEBHOOK_SECRET (or pass --secret) to the server's webhook secret.", 2);
      if (!/^[^/\s]+\/[^/\s]+$/.test(options.repo)) throw new CliError("--repo must be owner/repo.", 2);
      if (options.changed && event !== "push") {
        throw new CliError("--changed sets a push's changed files: use it with simulate push.", 2);
      }
      // A push starts where the branch's environment is (`paths` skips only a push from its head).
      const { url: base, token: apiToken } = connection();
      const before =
        event === "push" && options.changed && apiToken
          ? await simulatedHead(apiClient({ url: base, token: apiToken }), options.repo, options.branch)
          : undefined;
      const payload = JSON.stringify(simulatedPayload(event as SimulatedEvent, { ...options, before }));
      const signature = `sha256=${createHmac("sha256", options.secret).update(payload).digest("hex")}`;
      const { url, token } = connection();
      const deliveryId = randomUUID();
      const response = await fetch(new URL("/api/github/webhooks", url), {
        method: "POST",
        body: payload,
        headers: {
          "content-type": "application/json",
          "x-github-event": event,
          "x-github-delivery": deliveryId,
          "x-hub-signature-256": signature,
        },
      }).catch((error: Error) => {
        throw new CliError(`Cannot reach envhooks at ${url} (${error.message}). Is it running?`);
      });
      if (response.status !== 202) throw new CliError(`${response.status}: ${await response.text()}`);
      console.log(
        `Sent ${event} for ${options.repo} (${event === "pull_request" ? `#${options.pr}` : options.branch}): accepted.`,
      );
      if (!token) {
        console.log("Pass --token (or set ENVHOOKS_TOKEN) to see the activity it makes.");
        return;
      }
      await followSimulated(apiClient({ url, token }), url, options.repo, deliveryId);
    },
  );

/** The head commit of a simulated branch's environment, in the repository's project or its `~simulated` one. */
async function simulatedHead(client: Api, repo: string, branch: string): Promise<string | undefined> {
  for (const name of [repo, `${repo}~simulated`]) {
    const listed = await client<Row[]>(`/api/projects/${name}/environments`).catch(() => [] as Row[]);
    const found = listed.find((environment) => environment.name === branchEnvironmentName(branch));
    if (typeof found?.head_commit === "string") return found.head_commit;
  }
  return undefined;
}

/** How long `simulate` waits for envhooks to apply the event it sent. */
const SIMULATE_WAIT_MS = 20_000;

/**
 * Waits for the simulated delivery to be applied and prints what it made: each activity's id and its
 * page on the dashboard, or why it made none. A simulated event goes to the repository's project, or,
 * when a GitHub repository holds that name, to `owner/repo~simulated`.
 */
async function followSimulated(client: Api, url: string, repo: string, deliveryId: string) {
  const deadline = Date.now() + SIMULATE_WAIT_MS;
  for (;;) {
    for (const name of [repo, `${repo}~simulated`]) {
      const events = await client<{ items: Row[] }>(`/api/projects/${name}/github-events?limit=100`).catch(
        (error: unknown) => {
          // No project of that name (yet): the delivery is not there.
          if (error instanceof CliError && /^40[34]/.test(error.message)) return { items: [] as Row[] };
          throw error;
        },
      );
      const received = events.items.find((item) => item.delivery_id === deliveryId);
      if (!received || received.state === "pending") continue;
      if (received.state === "failed")
        throw new CliError(`envhooks could not apply it: ${received.last_error ?? "no reason given"}.`);
      const { items } = await client<{ items: Row[] }>(`/api/projects/${name}/activities?limit=100`);
      const made = items
        .filter((a) => (a.github as { delivery_id?: string } | null)?.delivery_id === deliveryId)
        .reverse();
      if (made.length === 0) console.log(`No activity: ${received.outcome ?? "nothing to do"}.`);
      for (const activity of made) {
        const environment = (activity.parameters as Row | undefined)?.environment;
        console.log(
          `Activity ${activity.id} (${activity.type}${environment ? ` of ${environment}` : ""}, ${name}): ${new URL(`/activities/${activity.id}`, url)}`,
        );
      }
      return;
    }
    if (Date.now() > deadline) {
      console.log(
        `Not applied yet after ${SIMULATE_WAIT_MS / 1000} s: see ${new URL(`/projects/${repo}`, url)} for its activity.`,
      );
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof CliError) {
    console.error(`envhooks: ${error.message}`);
    process.exitCode = error.exitCode;
  } else {
    console.error(`envhooks: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
