import { Hono } from "hono";
import type { ProbotOctokit } from "probot";
import type { WebDeps } from "../web-routes.ts";

/** What registering the GitHub App gives back, as kept in .env. */
export interface AppCredentials {
  appId: string;
  slug: string;
  privateKey: string;
  webhookSecret: string;
  clientId: string;
  clientSecret: string;
  /** The app's page on GitHub (its install page is `${htmlUrl}/installations/new`). */
  htmlUrl: string;
}

/** Setup in the browser, while the GitHub App is not configured. */
export interface SetupDeps {
  /** Whether the App is still to be registered (false once it is). */
  needed(): boolean;
  /** The one-time key in the URL envhooks logs (`/setup?key=…`): only who reads the log can set up. */
  key: string;
  /** GitHub's web root (https://github.com, or GitHub Enterprise Server's). */
  webUrl: string;
  /** GitHub's REST root. */
  apiUrl: string;
  /** The file the credentials are written to (mode 600). */
  envFile: string;
  /** app.yml's path. */
  manifestFile: string;
  /** A smee.io channel forwarding GitHub's webhooks here (local development without a public URL). */
  webhookProxyUrl?: string | undefined;
  /** An operator token generated at this start, shown once on the setup page. */
  generatedApiToken?: string | undefined;
  /** Connects the registered App into the running envhooks (no restart). */
  connect(credentials: AppCredentials): Promise<void>;
  Octokit?: typeof ProbotOctokit;
}

/** /setup: registers the GitHub App from app.yml through GitHub's manifest flow. */
export function setupRoutes(_deps: WebDeps): Hono {
  return new Hono();
}
