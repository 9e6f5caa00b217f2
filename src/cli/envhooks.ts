#!/usr/bin/env node
// The envhooks CLI: the API from a terminal, in Platform.sh's and Divshot's words.
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import Table from "cli-table3";
import { Command, CommanderError, Option } from "commander";
import packageJson from "../../package.json" with { type: "json" };
import { type Api, apiClient, CliError, resolveProject } from "./client.ts";

type Row = Record<string, unknown>;

const program = new Command("envhooks")
  .description("Manage envhooks integrations, environments and activities on a running server.")
  .version(packageJson.version)
  .addOption(
    new Option("--url <url>", "the envhooks server").env("ENVHOOKS_URL").default("http://localhost:3000"),
  )
  .addOption(
    new Option("--token <token>", "an API token (ENVHOOKS_API_TOKEN or a project token)").env(
      "ENVHOOKS_TOKEN",
    ),
  )
  .option("-p, --project <owner/repo>", "the project (default: this checkout's GitHub origin)")
  .showHelpAfterError()
  .exitOverride();

const api = (): Api =>
  apiClient(program.opts<{ url: string; token?: string }>() as { url: string; token: string | undefined });
const project = () => resolveProject(program.opts<{ project?: string }>().project);
const integrations = () => `/api/projects/${project()}/integrations`;

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
  const table = new Table({ head: columns });
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
    environments: options.environments,
    excluded_environments: options.excludedEnvironments,
    format: options.format,
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
    .option("--environments <names>", "environment names, * globs", list)
    .option("--excluded-environments <names>", "environment names never sent", list)
    .option("--format <format>", "platformsh, dockership, kudu, divshot or shipway")
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
    print(await api()<Row[]>(integrations()), INTEGRATION_COLUMNS, options.json);
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
    const hooks = (await api()<Row[]>(integrations())).filter((i) => i.type === "webhook");
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
  .command("environment:list")
  .alias("environments")
  .description("List the project's environments")
  .option("--json", "print JSON")
  .action(async (options: { json?: boolean }) => {
    const environments = await api()<Row[]>(`/api/projects/${project()}/environments`);
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
    const { items } = await api()<{ items: Row[] }>(`/api/projects/${project()}/activities?${query}`);
    print(
      items.map((a) => ({ ...a, environment: (a.parameters as Row | undefined)?.environment })),
      ["id", "type", "environment", "state", "result", "created_at"],
      options.json,
    );
  });

program
  .command("simulate <event>")
  .description("Sign a realistic GitHub push with WEBHOOK_SECRET and post it, as GitHub would")
  .requiredOption("--repo <owner/repo>", "the repository")
  .option("--branch <branch>", "the branch pushed to", "main")
  .addOption(new Option("--secret <secret>", "the webhook secret").env("WEBHOOK_SECRET"))
  .action(async (event: string, options: { repo: string; branch: string; secret?: string }) => {
    if (event !== "push") throw new CliError(`simulate knows push only for now, not "${event}".`, 2);
    if (!options.secret)
      throw new CliError("Set WEBHOOK_SECRET (or pass --secret) to the server's webhook secret.", 2);
    const example = JSON.parse(
      readFileSync(new URL("../../examples/push.json", import.meta.url), "utf8"),
    ) as Row;
    const [owner, name] = options.repo.split("/");
    const payload = JSON.stringify({
      ...example,
      ref: `refs/heads/${options.branch}`,
      created: false,
      repository: { ...(example.repository as Row), full_name: options.repo, name, owner: { login: owner } },
    });
    const signature = `sha256=${createHmac("sha256", options.secret).update(payload).digest("hex")}`;
    const { url } = program.opts<{ url: string }>();
    const response = await fetch(new URL("/api/github/webhooks", url), {
      method: "POST",
      body: payload,
      headers: {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": signature,
      },
    }).catch((error: Error) => {
      throw new CliError(`Cannot reach envhooks at ${url} (${error.message}).`);
    });
    if (response.status !== 202) throw new CliError(`${response.status}: ${await response.text()}`);
    console.log(`Pushed to ${options.repo}@${options.branch}: accepted.`);
  });

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
