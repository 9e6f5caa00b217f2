import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { helmBinary, type KubeObject, parseManifests, validateObject } from "./helm.ts";

const CHART = new URL("../../deploy/helm/envhooks", import.meta.url).pathname;
const POSTGRES_VALUES = new URL("./values-postgres.yaml", import.meta.url).pathname;
const run = promisify(execFile);

let helm: string;
beforeAll(async () => {
  helm = await helmBinary();
}, 120_000);

async function template(...args: string[]): Promise<KubeObject[]> {
  const { stdout } = await run(helm, ["template", "ci", CHART, "--namespace", "envhooks", ...args]);
  return parseManifests(stdout);
}

async function lint(...args: string[]): Promise<string> {
  const { stdout } = await run(helm, ["lint", "--strict", CHART, ...args]);
  return stdout;
}

/** Renders and validates every object; rejects with what helm or a schema says. */
async function renderValid(...args: string[]): Promise<KubeObject[]> {
  const objects = await template(...args);
  for (const object of objects) await validateObject(object);
  return objects;
}

const find = (objects: KubeObject[], kind: string, name: string) =>
  objects.find((object) => object.kind === kind && object.metadata.name === name) as KubeObject;
const envOf = (deployment: KubeObject) =>
  Object.fromEntries(
    deployment.spec.template.spec.containers[0].env.map((e: { name: string; value: string }) => [
      e.name,
      e.value,
    ]),
  );

describe("the Helm chart", () => {
  it("lints, renders and validates with the default values: one embedded pod on a claim", async () => {
    expect(await lint()).toContain("0 chart(s) failed");
    const objects = await renderValid();
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      "Deployment/ci-envhooks-web",
      "PersistentVolumeClaim/ci-envhooks",
      "Secret/ci-envhooks",
      "Service/ci-envhooks",
    ]);
    const web = find(objects, "Deployment", "ci-envhooks-web");
    expect(web.spec.replicas).toBe(1);
    expect(web.spec.strategy.type).toBe("Recreate");
    expect(envOf(web).ENVHOOKS_ROLE).toBe("all");
    // The image test runs the embedded store on a volume mounted this way (step 6).
    expect(envOf(web).ENVHOOKS_DATA_DIR).toBe("/data/envhooks");
    const pod = web.spec.template.spec;
    expect(pod.volumes.find((v: { name: string }) => v.name === "data").persistentVolumeClaim.claimName).toBe(
      "ci-envhooks",
    );
    const container = pod.containers[0];
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      fsGroup: 10001,
      fsGroupChangePolicy: "OnRootMismatch",
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    expect(container.livenessProbe.httpGet.path).toBe("/healthz");
    // A pod busy on one core still answers /healthz within 5 s; 1 s (Kubernetes' default) restarts it.
    expect(container.livenessProbe.timeoutSeconds).toBe(5);
    expect(
      container.startupProbe.periodSeconds * container.startupProbe.failureThreshold,
    ).toBeGreaterThanOrEqual(300);
    // envhooks ends itself by the shutdown delay plus its 20 s drain deadline (src/main.ts).
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
      Number(envOf(web).ENVHOOKS_SHUTDOWN_DELAY_MS) / 1000 + 20,
    );
  });

  it("lints, renders and validates PostgreSQL with two web pods, two workers, an Ingress and a ServiceMonitor", async () => {
    expect(await lint("-f", POSTGRES_VALUES)).toContain("0 chart(s) failed");
    const objects = await renderValid("-f", POSTGRES_VALUES);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      "Deployment/ci-envhooks-web",
      "Deployment/ci-envhooks-worker",
      "Ingress/ci-envhooks",
      "PodDisruptionBudget/ci-envhooks-web",
      "PodDisruptionBudget/ci-envhooks-worker",
      "Secret/ci-envhooks",
      "Service/ci-envhooks",
      "Service/ci-envhooks-worker",
      "ServiceMonitor/ci-envhooks",
    ]);
    const web = find(objects, "Deployment", "ci-envhooks-web");
    const worker = find(objects, "Deployment", "ci-envhooks-worker");
    expect([web.spec.replicas, envOf(web).ENVHOOKS_ROLE]).toEqual([2, "web"]);
    expect([worker.spec.replicas, envOf(worker).ENVHOOKS_ROLE]).toEqual([2, "worker"]);
    expect(envOf(web).ENVHOOKS_PUBLIC_URL).toBe("https://envhooks.example.com");
    // Behind the Ingress every request comes from the controller: its X-Forwarded-For is believed.
    expect(envOf(web).ENVHOOKS_TRUSTED_PROXIES).toBe("10.0.0.0/8");
    expect(find(objects, "Ingress", "ci-envhooks").metadata.annotations).toMatchObject({
      "nginx.ingress.kubernetes.io/proxy-body-size": "25m",
    });
    // One pod of each may be drained at a time.
    for (const role of ["web", "worker"]) {
      expect(find(objects, "PodDisruptionBudget", `ci-envhooks-${role}`).spec).toMatchObject({
        maxUnavailable: 1,
        selector: { matchLabels: { "app.kubernetes.io/component": role } },
      });
    }
    expect(find(objects, "Secret", "ci-envhooks").stringData).toMatchObject({
      DATABASE_URL: "postgres://envhooks:password@postgres.example.internal:5432/envhooks",
      ENVHOOKS_API_TOKEN: "0123456789abcdef0123456789abcdef",
    });
    expect(find(objects, "Ingress", "ci-envhooks").spec.tls).toEqual([
      { hosts: ["envhooks.example.com"], secretName: "envhooks-tls" },
    ]);
    expect(
      find(objects, "ServiceMonitor", "ci-envhooks").spec.endpoints[0].authorization.credentials,
    ).toEqual({
      name: "ci-envhooks",
      key: "ENVHOOKS_METRICS_TOKEN",
      optional: false,
    });
  });

  it("renders no PodDisruptionBudget for a role with one pod: kubectl drain would wait forever", async () => {
    const objects = await renderValid(
      "-f",
      POSTGRES_VALUES,
      "--set",
      "web.replicas=1",
      "--set",
      "worker.replicas=1",
    );
    expect(objects.filter((o) => o.kind === "PodDisruptionBudget")).toEqual([]);
    expect(find(objects, "Deployment", "ci-envhooks-worker").spec.replicas).toBe(1);
  });

  it("refuses values of the wrong type or out of range (values.schema.json), for web and workers", async () => {
    for (const value of ["web.replicas=two", "worker.replicas=two", "worker.replicas=-1"]) {
      await expect(template("-f", POSTGRES_VALUES, "--set", value)).rejects.toThrow(/replicas/);
      await expect(lint("-f", POSTGRES_VALUES, "--set", value)).rejects.toThrow(/replicas/);
    }
    await expect(template("--set", "database.kind=mysql")).rejects.toThrow(/kind/);
    await expect(template("--set", "terminationGracePeriodSeconds=soon")).rejects.toThrow(
      /terminationGracePeriodSeconds/,
    );
  });

  it("refuses the embedded store with two replicas, with workers, or without a claim", async () => {
    await expect(template("--set", "web.replicas=2")).rejects.toThrow(/web\.replicas must be 0 or 1/);
    // Scaled to none (the store kept on its claim, nothing running) is fine.
    expect(
      find(await renderValid("--set", "web.replicas=0"), "Deployment", "ci-envhooks-web").spec.replicas,
    ).toBe(0);
    await expect(template("--set", "worker.replicas=1")).rejects.toThrow(/worker\.replicas must be 0/);
    await expect(template("--set", "persistence.enabled=false")).rejects.toThrow(/persistence\.enabled=true/);
    await expect(template("--set", "database.kind=postgres")).rejects.toThrow(/needs database\.url/);
    // Kubernetes would kill pods still inside envhooks' drain deadline (shutdown delay + 20 s).
    await expect(template("--set", "terminationGracePeriodSeconds=25")).rejects.toThrow(
      /terminationGracePeriodSeconds \(25\) must be above/,
    );
  });
});
