import { randomBytes } from "node:crypto";
import type {
  ChatConfig,
  CreateIntegration,
  UpdateIntegration,
  WebhookConfig,
} from "./integration.schema.ts";
import type { Integration } from "./integration.ts";

/** What is stored for a new integration, and the secret to show this once (webhooks only). */
export interface NewSettings {
  type: Integration["type"];
  config: WebhookConfig | ChatConfig;
  secret: string;
  /** Shown in the creation answer; chat channels' URLs and tokens are the caller's own. */
  reveal: string | null;
  /** The URL envhooks will connect to, for the address check. */
  url: string;
  /** What people call it; null: `type → host`. */
  name: string | null;
}

export function newSettings({ name, ...body }: CreateIntegration): NewSettings {
  switch (body.type) {
    case "webhook": {
      const { type, secret, ...config } = body;
      const signing = secret ?? `whsec_${randomBytes(24).toString("base64")}`;
      return { type, config, secret: signing, reveal: signing, url: config.url, name: name ?? null };
    }
    case "hipchat": {
      const { type, token, ...config } = body;
      return { type, config, secret: token, reveal: null, url: config.url, name: name ?? null };
    }
    default: {
      const { type, url, ...config } = body;
      return { type, config, secret: url, reveal: null, url, name: name ?? null };
    }
  }
}

/** The fields each type can change; any other is refused, naming it. */
const UPDATABLE: Record<Integration["type"], ReadonlySet<keyof UpdateIntegration>> = (() => {
  const common = [
    "name",
    "events",
    "states",
    "results",
    "projects",
    "environments",
    "excluded_environments",
    "timeout_ms",
    "retry_schedule",
    "ordering",
    "concurrency",
    "url",
  ] as const;
  const chat = new Set<keyof UpdateIntegration>(common);
  return {
    webhook: new Set<keyof UpdateIntegration>([...common, "format", "headers", "secret", "insecure_ssl"]),
    slack: chat,
    discord: chat,
    teams: chat,
    mattermost: chat,
    googlechat: new Set<keyof UpdateIntegration>([...common, "thread_by_environment"]),
    hipchat: new Set<keyof UpdateIntegration>([...common, "room", "token"]),
  };
})();

/** Fields of `change` that an integration of this type does not have. */
export function foreignFields(type: Integration["type"], change: UpdateIntegration): string[] {
  return Object.keys(change).filter((field) => !UPDATABLE[type].has(field as keyof UpdateIntegration));
}

/**
 * The stored settings after `change`: the new config, the new secret if any (a chat channel's new
 * URL, HipChat's new token), whether it starts a signing-secret rotation, and the URL to check.
 */
export function changedSettings(
  integration: Integration,
  change: UpdateIntegration,
): {
  config: WebhookConfig | ChatConfig;
  secret: string | undefined;
  rotate: boolean;
  url: string | undefined;
  name: string | null | undefined;
} {
  const { secret, token, url, name, results, projects, ...given } = change;
  // null clears a filter: the setting is left out (every result, every repository).
  const rest = {
    ...given,
    ...(results === undefined ? {} : { results: results ?? undefined }),
    ...(projects === undefined ? {} : { projects: projects ?? undefined }),
  };
  switch (integration.type) {
    case "webhook":
      return {
        config: { ...integration.config, ...rest, ...(url ? { url } : {}) } as WebhookConfig,
        secret,
        rotate: true,
        url,
        name,
      };
    case "hipchat":
      return {
        config: { ...integration.config, ...rest, ...(url ? { url } : {}) },
        secret: token,
        rotate: false,
        url,
        name,
      };
    default:
      return { config: { ...integration.config, ...rest }, secret: url, rotate: false, url, name };
  }
}
