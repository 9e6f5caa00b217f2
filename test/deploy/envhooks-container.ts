import { REPO } from "../fixtures/github-events.ts";
import { sendPush } from "../helpers/send-push.ts";
import { eventually } from "../helpers/test-envhooks.ts";
import { podman } from "./podman.ts";
import { NODE_IMAGE } from "./stand-in-images.ts";

export { sendPush };

export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
/** The name deploy/compose uses (`image: envhooks`). */
export const IMAGE = "localhost/envhooks:latest";

/** The project's Dockerfile, unchanged, on the stand-in base. */
export async function buildImage(): Promise<void> {
  const idOf = () => podman(["image", "inspect", "--format", "{{.Id}}", IMAGE]).then((id) => id.trim());
  const before = await idOf().catch(() => "");
  // Docker's image format keeps the HEALTHCHECK (OCI's has no field for it).
  const build = ["build", "--format", "docker", "--pull=never", "--build-arg", `BASE_IMAGE=${NODE_IMAGE}`];
  await podman([...build, "-t", IMAGE, ROOT], { timeoutMs: 1_200_000 });
  // The image this build replaced, untagged now: removed by its id, never a prune of everyone's.
  if (before && before !== (await idOf())) await podman(["rmi", before]).catch(() => {});
}

/** The project's activities, through the API. */
export async function activities(url: string, token: string): Promise<Array<{ id: string; type: string }>> {
  const response = await fetch(`${url}/api/projects/${REPO}/activities`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (response.status !== 200) throw new Error(`activities: ${response.status} ${await response.text()}`);
  return (await response.json()).items;
}

/** Waits for /readyz on the container's published port 3000; resolves with the base URL. */
export async function ready(container: string, timeoutMs = 180_000): Promise<string> {
  const url = await eventually(async () => {
    const address = (await podman(["port", container, "3000"])).trim().split("\n")[0];
    return address ? `http://${address}` : undefined;
  }, timeoutMs);
  await eventually(async () => (await fetch(`${url}/readyz`)).status === 200, timeoutMs);
  return url;
}
