// What an operator relies on beyond schema validity: the containers' arguments are ones the
// executable accepts, the DaemonSet mounts the host paths the installer writes and the agent and
// plugins read (the defaults in src/, not copies of them), probes hit the ports the processes
// listen on, selectors select, and each overlay changes what it says it changes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../../scripts/manifests.ts";
import { DEFAULT_AGENT_SOCKET } from "../../src/agent/protocol.ts";
import { DEFAULT_FLAT_FILE_PATHS } from "../../src/config/flat-file.ts";
import { DEFAULT_LOCAL_PATH } from "../../src/config/types.ts";
import { DEFAULT_CONTROLLER_OPTIONS } from "../../src/controller/controller.ts";
import { CONFIGMAP_NAME, DEFAULT_CRON } from "../../src/controller/cron.ts";
import { DEFAULT_CRON_FILE } from "../../src/controller/cron-config.ts";
import { buildOnce } from "../controller/support.ts";
import { NAD_CRD } from "../k8s-api/crds.ts";
import {
  type Container,
  container,
  find,
  findAll,
  type KubeObject,
  type PodSpec,
  podSpec,
  render,
  VARIANTS,
  type Variant,
  workloads,
} from "./render.ts";

const BINARY = join(ROOT, "bin", "thereabouts");

/** The value of a `--flag VALUE` argument. */
function flag(c: Container, name: string): string | undefined {
  const args = c.args ?? [];
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

/** The host path behind a container path, when a hostPath volume is mounted at or above it. */
function hostPathOf(
  spec: PodSpec,
  c: Container,
  path: string,
): { host: string; readOnly: boolean } | undefined {
  const mounts = (c.volumeMounts ?? []).filter(
    (m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`),
  );
  const mount = mounts.sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const volume = spec.volumes?.find((v) => v.name === mount?.name);
  if (mount === undefined || volume?.hostPath === undefined) return undefined;
  return {
    host: volume.hostPath.path + path.slice(mount.mountPath.length),
    readOnly: mount.readOnly === true,
  };
}

function env(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

function fieldRef(c: Container, name: string): string | undefined {
  const from = c.env?.find((e) => e.name === name)?.valueFrom as
    | { fieldRef?: { fieldPath: string } }
    | undefined;
  return from?.fieldRef?.fieldPath;
}

/** The container port a probe or port name refers to. */
function portNumber(c: Container, port: number | string): number | undefined {
  return typeof port === "number" ? port : c.ports?.find((p) => p.name === port)?.containerPort;
}

const daemonSet = (v: Variant) => find(render(v), "DaemonSet", "thereabouts");
const controller = (v: Variant) => find(render(v), "Deployment", "thereabouts-controller");

describe("manifests: what the containers run", () => {
  it("every container's arguments parse: `thereabouts <args> --help` succeeds and lists each flag used", () => {
    buildOnce();
    const failures: string[] = [];
    const seen = new Set<string>();
    for (const variant of VARIANTS)
      for (const w of workloads(render(variant)))
        for (const c of podSpec(w).containers) {
          const args = c.args ?? [];
          if (seen.has(JSON.stringify(args))) continue;
          seen.add(JSON.stringify(args));
          const r = spawnSync(BINARY, [...args, "--help"], {
            encoding: "utf8",
            env: { PATH: "/usr/bin:/bin" },
          });
          if (r.status !== 0) {
            failures.push(
              `${variant} ${c.name}: \`thereabouts ${args.join(" ")} --help\` exit ${r.status}: ${r.stderr.trim().split("\n")[0]}`,
            );
            continue;
          }
          for (const a of args.filter((x) => x.startsWith("--")))
            if (!new RegExp(`(^|\\s)${a}(\\s|=|$)`, "m").test(r.stdout))
              failures.push(`${variant} ${c.name}: ${a} is not in \`thereabouts ${args[0]} --help\``);
        }
    assert.deepEqual(failures, []);
  });

  for (const variant of VARIANTS) {
    it(`${variant}: every volume is mounted, every mount has its volume, selectors select their pods`, () => {
      for (const w of workloads(render(variant))) {
        const spec = podSpec(w);
        const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
        const mounted = new Set(spec.containers.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)));
        assert.deepEqual(
          [...mounted].filter((m) => !volumes.has(m)),
          [],
          `${w.kind} mounts without volume`,
        );
        assert.deepEqual(
          [...volumes].filter((v) => !mounted.has(v)),
          [],
          `${w.kind} volumes never mounted`,
        );
        const selector = (w as unknown as { spec: { selector: { matchLabels: Record<string, string> } } })
          .spec.selector;
        const labels = (
          w as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }
        ).spec.template.metadata.labels;
        for (const [k, v] of Object.entries(selector.matchLabels))
          assert.equal(labels[k], v, `${w.kind} label ${k}`);
      }
    });

    it(`${variant}: every container is confined (no privilege, read-only root, no capability) and has resources`, () => {
      for (const w of workloads(render(variant)))
        for (const c of podSpec(w).containers) {
          const sc = c.securityContext as {
            privileged?: boolean;
            allowPrivilegeEscalation?: boolean;
            readOnlyRootFilesystem?: boolean;
            capabilities?: { drop?: string[]; add?: string[] };
          };
          const what = `${variant} ${w.kind} ${c.name}`;
          assert.ok(c.resources?.requests?.["memory"] && c.resources.requests["cpu"], `${what}: requests`);
          assert.ok(c.resources?.limits?.["memory"], `${what}: a memory limit`);
          // The one exception, tested below: the multus-thick overlay's agent runs delegates.
          if (variant === "overlays/multus-thick" && w.kind === "DaemonSet" && c.name === "agent") continue;
          assert.notEqual(sc.privileged, true, what);
          assert.equal(sc.allowPrivilegeEscalation, false, what);
          assert.equal(sc.readOnlyRootFilesystem, true, what);
          assert.deepEqual(sc.capabilities?.drop, ["ALL"], what);
          assert.equal(sc.capabilities?.add, undefined, what);
        }
    });
  }
});

describe("manifests: the node DaemonSet", () => {
  for (const variant of VARIANTS) {
    it(`${variant}: the installer writes where plugins look, on the host paths it writes into its files`, () => {
      const ds = daemonSet(variant);
      const spec = podSpec(ds);
      const install = container(ds, "install");
      assert.deepEqual(install.args?.[0], "install");
      for (const name of ["CNI_BIN_DIR", "CNI_CONF_DIR"]) {
        const path = env(install, name) ?? "";
        assert.ok(path.startsWith("/host/"), `${name} (${path}) is under /host`);
        const host = hostPathOf(spec, install, path);
        // The installer writes host paths as the container path minus /host (as Go's install-cni.sh).
        assert.deepEqual(host, { host: path.slice("/host".length), readOnly: false }, name);
      }
      const confDir = env(install, "CNI_CONF_DIR")!.slice("/host".length);
      assert.ok(
        (DEFAULT_FLAT_FILE_PATHS as readonly string[]).includes(`${confDir}/whereabouts.d/whereabouts.conf`),
        `plugins find ${confDir}/whereabouts.d/whereabouts.conf without configuration_path`,
      );
      assert.equal(fieldRef(install, "WHEREABOUTS_NAMESPACE"), "metadata.namespace");
      assert.equal(fieldRef(install, "NODENAME"), "spec.nodeName");
    });

    it(`${variant}: host network, every taint tolerated, node-critical, rolling updates`, () => {
      const ds = daemonSet(variant) as KubeObject & {
        spec: { updateStrategy: { type: string; rollingUpdate?: { maxUnavailable?: unknown } } };
      };
      const spec = podSpec(ds);
      assert.equal(spec["hostNetwork"], true);
      assert.deepEqual(spec["tolerations"], [{ operator: "Exists" }]);
      assert.equal(spec["priorityClassName"], "system-node-critical");
      assert.equal(spec.serviceAccountName, "thereabouts");
      assert.equal(ds.spec.updateStrategy.type, "RollingUpdate");
      assert.ok(ds.spec.updateStrategy.rollingUpdate?.maxUnavailable);
      assert.equal(typeof spec["terminationGracePeriodSeconds"], "number");
      for (const c of spec.containers)
        assert.equal((c.securityContext as { runAsUser?: number }).runAsUser, 0, `${c.name} runs as root`);
    });
  }

  for (const variant of ["base", "overlays/openshift"] as const) {
    it(`${variant}: the agent serves the socket plugins look for and sees their files at the host's paths`, () => {
      const ds = daemonSet(variant);
      const spec = podSpec(ds);
      const agent = container(ds, "agent");
      assert.equal(agent.args?.[0], "agent");
      // Plugins on the host look for the default socket; the agent uses it too (no --socket, no env).
      assert.equal(flag(agent, "--socket"), undefined);
      assert.equal(env(agent, "THEREABOUTS_AGENT_SOCKET"), undefined);
      const socketDir = dirname(DEFAULT_AGENT_SOCKET);
      assert.deepEqual(hostPathOf(spec, agent, socketDir), { host: socketDir, readOnly: false });
      // --node-name's default: the node whose pods the meta-plugin's calls find in the cache.
      assert.equal(fieldRef(agent, "NODENAME"), "spec.nodeName");
      // Every --host-paths prefix is the same path on the host.
      const prefixes = flag(agent, "--host-paths")?.split(",") ?? [];
      assert.ok(prefixes.length > 0, "--host-paths is given");
      for (const p of prefixes) assert.equal(hostPathOf(spec, agent, p)?.host, p, `${p} is the host's ${p}`);
      const covered = (path: string) => prefixes.some((p) => path === p || path.startsWith(`${p}/`));
      // The default flat files (host paths, not Go's container path), the installer's files and
      // the embedded store's default file are inside them.
      for (const path of DEFAULT_FLAT_FILE_PATHS.filter((p) => !p.startsWith("/host/")))
        assert.ok(covered(path), path);
      const installed = `${env(container(ds, "install"), "CNI_CONF_DIR")!.slice("/host".length)}/whereabouts.d/whereabouts.kubeconfig`;
      assert.ok(covered(installed), installed);
      assert.ok(covered(DEFAULT_LOCAL_PATH), DEFAULT_LOCAL_PATH);
      assert.deepEqual(hostPathOf(spec, agent, dirname(DEFAULT_LOCAL_PATH)), {
        host: dirname(DEFAULT_LOCAL_PATH),
        readOnly: false,
      });
      // The readiness probe asks the agent's /healthz on the port --metrics-listen opens.
      const listen = flag(agent, "--metrics-listen");
      const probe = agent.readinessProbe?.httpGet;
      assert.equal(probe?.path, "/healthz");
      assert.equal(String(portNumber(agent, probe.port)), listen?.split(":").pop());
      assert.equal(listen?.split(":")[0], "0.0.0.0", "reachable on the node's address by the kubelet");
    });
  }

  it("overlays/no-agent: the installer alone, no agent container and none of its volumes", () => {
    const spec = podSpec(daemonSet("overlays/no-agent"));
    assert.deepEqual(
      spec.containers.map((c) => c.name),
      ["install"],
    );
    const base = podSpec(daemonSet("base"));
    assert.ok(
      base.containers.some((c) => c.name === "agent"),
      "the base has one",
    );
    assert.deepEqual(
      (spec.volumes ?? []).map((v) => v.name),
      (base.volumes ?? [])
        .filter((v) => container(daemonSet("base"), "install").volumeMounts?.some((m) => m.name === v.name))
        .map((v) => v.name),
    );
  });
});

describe("manifests: the controller", () => {
  for (const variant of VARIANTS) {
    it(`${variant}: two replicas, leader election identity, probes and metrics on the port it listens on`, () => {
      const d = controller(variant) as KubeObject & { spec: { replicas: number } };
      assert.equal(d.spec.replicas, 2);
      const spec = podSpec(d);
      assert.equal(spec.serviceAccountName, "thereabouts-controller");
      const c = container(d, "controller");
      assert.deepEqual(c.args, ["controller"]);
      assert.equal(fieldRef(c, "POD_NAME"), "metadata.name");
      assert.equal(fieldRef(c, "POD_NAMESPACE"), "metadata.namespace");
      assert.equal(fieldRef(c, "WHEREABOUTS_NAMESPACE"), "metadata.namespace");
      const port = DEFAULT_CONTROLLER_OPTIONS.listen.split(":").pop();
      assert.equal(String(portNumber(c, c.livenessProbe!.httpGet!.port)), port);
      assert.equal(c.livenessProbe?.httpGet?.path, "/healthz");
      assert.equal(String(portNumber(c, c.readinessProbe!.httpGet!.port)), port);
      assert.equal(c.readinessProbe?.httpGet?.path, "/readyz");
      assert.equal(String(c.ports?.find((p) => p.name === "metrics")?.containerPort), port);
      const pdb = find(render(variant), "PodDisruptionBudget", "thereabouts-controller") as KubeObject & {
        spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } };
      };
      assert.equal(pdb.spec.minAvailable, 1);
      assert.deepEqual(pdb.spec.selector, (d as unknown as { spec: { selector: unknown } }).spec.selector);
    });
  }

  for (const variant of ["base", "overlays/no-agent"] as const) {
    it(`${variant}: whereabouts-config's cron-expression is the default and mounted where the controller reads it`, () => {
      const objects = render(variant);
      const configMap = find(objects, "ConfigMap", CONFIGMAP_NAME) as KubeObject & {
        data: Record<string, string>;
      };
      assert.deepEqual(configMap.data, { "cron-expression": DEFAULT_CRON });
      const d = controller(variant);
      const c = container(d, "controller");
      const mount = c.volumeMounts?.find((m) => m.mountPath === dirname(DEFAULT_CRON_FILE));
      const volume = podSpec(d).volumes?.find((v) => v.name === mount?.name);
      assert.deepEqual(volume?.configMap, {
        name: CONFIGMAP_NAME,
        optional: true,
        items: [
          { key: "cron-expression", path: DEFAULT_CRON_FILE.slice(dirname(DEFAULT_CRON_FILE).length + 1) },
        ],
      });
      assert.equal(flag(c, "--cron-file"), undefined, "the default file");
    });
  }
});

describe("manifests: the openshift overlay", () => {
  const objects = () => render("overlays/openshift");

  it("puts every namespaced object in openshift-multus, where OpenShift's Whereabouts keeps pools, Lease and ConfigMap", () => {
    const clusterScoped = new Set([
      "CustomResourceDefinition",
      "ClusterRole",
      "ClusterRoleBinding",
      "SecurityContextConstraints",
    ]);
    for (const o of objects())
      assert.equal(
        o.metadata.namespace,
        clusterScoped.has(o.kind) ? undefined : "openshift-multus",
        `${o.kind} ${o.metadata.name}`,
      );
    for (const b of [...findAll(objects(), "RoleBinding"), ...findAll(objects(), "ClusterRoleBinding")])
      for (const s of (b as { subjects?: { namespace?: string }[] }).subjects ?? [])
        assert.equal(s.namespace, "openshift-multus", `${b.kind} ${b.metadata.name} subject`);
  });

  it("leaves whereabouts-config to the cluster's users and lets the controller read it through the API", () => {
    assert.ok(!objects().some((o) => o.kind === "ConfigMap"));
    const d = find(objects(), "Deployment", "thereabouts-controller");
    assert.deepEqual(podSpec(d).volumes ?? [], []);
    assert.equal(
      (podSpec(d)["securityContext"] as { runAsUser?: number }).runAsUser,
      undefined,
      "UID from the namespace range",
    );
  });

  it("installs only the thereabouts name into OpenShift's CNI directories", () => {
    const install = container(find(objects(), "DaemonSet", "thereabouts"), "install");
    assert.deepEqual(install.args, ["install", "--names", "thereabouts"]);
    assert.equal(env(install, "CNI_BIN_DIR"), "/host/var/lib/cni/bin");
    assert.equal(env(install, "CNI_CONF_DIR"), "/host/etc/kubernetes/cni/net.d");
  });

  it("has an SCC that admits exactly what the node pods need, usable by their ServiceAccount", () => {
    const scc = find(objects(), "SecurityContextConstraints", "thereabouts") as KubeObject &
      Record<string, unknown>;
    const ds = find(objects(), "DaemonSet", "thereabouts");
    const spec = podSpec(ds);
    // What the pod asks for is allowed...
    assert.equal(scc["allowHostNetwork"], spec["hostNetwork"]);
    assert.equal(scc["allowHostPorts"], true, "host network ports (the agent's 9741)");
    assert.equal(scc["allowHostDirVolumePlugin"], true);
    const volumeTypes = new Set((spec.volumes ?? []).map((v) => Object.keys(v).find((k) => k !== "name")));
    for (const t of volumeTypes) assert.ok((scc["volumes"] as string[]).includes(t!), `volume type ${t}`);
    assert.deepEqual(scc["runAsUser"], { type: "MustRunAs", uid: 0 });
    assert.equal(
      (spec["securityContext"] as { seLinuxOptions?: { type: string } }).seLinuxOptions?.type,
      "spc_t",
    );
    assert.deepEqual(scc["seLinuxContext"], { type: "RunAsAny" });
    assert.deepEqual(scc["seccompProfiles"], ["runtime/default"]);
    // ... and nothing beyond it.
    for (const key of [
      "allowPrivilegedContainer",
      "allowPrivilegeEscalation",
      "allowHostPID",
      "allowHostIPC",
    ])
      assert.equal(scc[key], false, key);
    assert.deepEqual(scc["allowedCapabilities"], []);
    assert.deepEqual(scc["requiredDropCapabilities"], ["ALL"]);
    assert.deepEqual([scc["users"], scc["groups"]], [[], []], "granted through RBAC only");
    const role = find(objects(), "ClusterRole", "thereabouts-scc") as KubeObject & { rules: unknown };
    assert.deepEqual(role.rules, [
      {
        apiGroups: ["security.openshift.io"],
        resources: ["securitycontextconstraints"],
        resourceNames: ["thereabouts"],
        verbs: ["use"],
      },
    ]);
  });

  it("lets the controller reach the API server and be probed despite openshift-multus' default-deny policy", () => {
    const policy = find(objects(), "NetworkPolicy", "thereabouts-controller") as KubeObject & {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        ingress: { ports: { port: number }[] }[];
        egress: unknown[];
      };
    };
    const d = find(objects(), "Deployment", "thereabouts-controller") as unknown as {
      spec: { selector: { matchLabels: Record<string, string> } };
    };
    assert.deepEqual(policy.spec.podSelector.matchLabels, d.spec.selector.matchLabels);
    assert.deepEqual(policy.spec.ingress, [
      { ports: [{ port: Number(DEFAULT_CONTROLLER_OPTIONS.listen.split(":").pop()) }] },
    ]);
    assert.deepEqual(policy.spec.egress, [{}]);
  });
});

describe("manifests: the multus overlay", () => {
  const objects = () => render("overlays/multus");
  const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;

  it("is the base with the installer's --multus, plus the NAD CRD and the meta-plugin's RBAC", () => {
    const base = new Map(render("base").map((o) => [key(o), o]));
    const added = objects().filter((o) => !base.has(key(o)));
    assert.deepEqual(added.map(key).sort(), [
      "ClusterRole//thereabouts-multus",
      "ClusterRoleBinding//thereabouts-multus",
      "CustomResourceDefinition//network-attachment-definitions.k8s.cni.cncf.io",
    ]);
    for (const o of added)
      assert.deepEqual(o.metadata["labels"], { "app.kubernetes.io/part-of": "thereabouts" }, key(o));
    for (const o of objects().filter((x) => base.has(key(x)))) {
      const expected = structuredClone(base.get(key(o))!);
      if (o.kind === "DaemonSet") {
        (podSpec(expected).containers.find((c) => c.name === "install") as { args?: string[] }).args = [
          "install",
          "--multus",
        ];
        // The agent declines the meta-plugin's calls at once: thin mode.
        const agent = podSpec(expected).containers.find((c) => c.name === "agent") as unknown as {
          args: string[];
        };
        agent.args = [...agent.args, "--no-multus"];
      }
      assert.deepEqual(
        o,
        expected,
        `${key(o)}: the base's (the DaemonSet: but for the installer's and the agent's arguments)`,
      );
    }
    assert.deepEqual(container(find(objects(), "DaemonSet", "thereabouts"), "install").args, [
      "install",
      "--multus",
    ]);
  });
});

describe("manifests: the multus-thick overlay", () => {
  const objects = () => render("overlays/multus-thick");
  const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;

  it("is the multus overlay but for the agent and the pod's volumes", () => {
    const thin = new Map(render("overlays/multus").map((o) => [key(o), o]));
    assert.deepEqual(objects().map(key).sort(), [...thin.keys()].sort());
    for (const o of objects()) {
      const expected = structuredClone(thin.get(key(o))!);
      if (o.kind === "DaemonSet") {
        const spec = podSpec(expected) as { containers: Container[]; volumes?: unknown };
        spec.containers = spec.containers.map((c) => (c.name === "agent" ? container(o, "agent") : c));
        spec.volumes = podSpec(o).volumes;
      }
      assert.deepEqual(o, expected, `${key(o)}: the multus overlay's (the DaemonSet: but for the agent)`);
    }
  });

  it("runs the agent for thick mode: every --host-paths directory (the base's too) mounted at its host path, NODENAME, privileged", () => {
    const ds = find(objects(), "DaemonSet", "thereabouts");
    const spec = podSpec(ds);
    const agent = container(ds, "agent");
    const baseDs = daemonSet("base");
    const baseAgent = container(baseDs, "agent");
    assert.equal(agent.args?.[0], "agent");
    assert.equal(flag(agent, "--socket"), undefined);
    assert.equal(flag(agent, "--metrics-listen"), flag(baseAgent, "--metrics-listen"));
    assert.equal(flag(agent, "--no-multus"), undefined, "thick mode on");
    const prefixes = flag(agent, "--host-paths")?.split(",") ?? [];
    for (const p of prefixes) assert.equal(hostPathOf(spec, agent, p)?.host, p, `${p} is the host's ${p}`);
    const covered = (path: string) => prefixes.some((p) => path === p || path.startsWith(`${p}/`));
    // Everything the base's agent shares, it shares, mounted as in the base.
    for (const p of flag(baseAgent, "--host-paths")!.split(",")) {
      assert.ok(covered(p), p);
      assert.deepEqual(hostPathOf(spec, agent, p), hostPathOf(podSpec(baseDs), baseAgent, p), p);
    }
    // What a meta-plugin call uses with the installer's 00-multus.conf and Multus' defaults: the
    // delegates' directory, the conf dirs, the caches (multus', host-local's, results), the
    // kubeconfig install --multus writes, the runtimes' netns directories, the dhcp daemon's socket.
    const confDir = env(container(ds, "install"), "CNI_CONF_DIR")!.slice("/host".length);
    for (const path of [
      env(container(ds, "install"), "CNI_BIN_DIR")!.slice("/host".length),
      "/etc/cni/multus/net.d",
      `${confDir}/multus.d/multus.kubeconfig`,
      "/var/lib/cni/multus",
      "/var/lib/cni/networks",
      "/run/netns",
      "/var/run/netns",
      "/run/cni/dhcp.sock",
    ])
      assert.ok(covered(path), `${path} is shared`);
    const mount = (path: string) =>
      agent.volumeMounts?.find((m) => m.mountPath === path) as
        | { readOnly?: boolean; mountPropagation?: string }
        | undefined;
    // The runtime mounts a pod's namespace after the agent started: only propagation shows it.
    for (const path of ["/run/netns", "/var/run/netns"]) {
      assert.equal(mount(path)?.mountPropagation, "HostToContainer", path);
      assert.equal(mount(path)?.readOnly, true, path);
    }
    // Caches are written; the delegates' binaries and the configurations only read.
    assert.equal(hostPathOf(spec, agent, "/var/lib/cni/multus")?.readOnly, false);
    assert.equal(hostPathOf(spec, agent, "/opt/cni/bin")?.readOnly, true);
    assert.equal(hostPathOf(spec, agent, "/etc/cni/multus/net.d")?.readOnly, true);
    assert.equal(fieldRef(agent, "NODENAME"), "spec.nodeName");
    assert.deepEqual(agent.securityContext, {
      runAsUser: 0,
      runAsNonRoot: false,
      privileged: true,
      allowPrivilegeEscalation: true,
      readOnlyRootFilesystem: true,
    });
    assert.equal(spec["hostPID"], undefined, "a netns under /proc/<pid> is left to the plugin");
    assert.equal(container(ds, "agent").resources?.limits?.["memory"], "512Mi");
  });

  it("writes multus, multus.d/ and 00-multus.conf where the kubelet's runtime looks: the host's /opt/cni/bin and /etc/cni/net.d", () => {
    const ds = find(objects(), "DaemonSet", "thereabouts");
    const install = container(ds, "install");
    assert.equal(hostPathOf(podSpec(ds), install, env(install, "CNI_BIN_DIR")!)?.host, "/opt/cni/bin");
    assert.equal(hostPathOf(podSpec(ds), install, env(install, "CNI_CONF_DIR")!)?.host, "/etc/cni/net.d");
  });

  it("ships the NetworkAttachmentDefinition CRD the API double serves: Multus' group, names, version and schema", () => {
    const crd = find(
      objects(),
      "CustomResourceDefinition",
      "network-attachment-definitions.k8s.cni.cncf.io",
    ) as KubeObject & { spec: CrdSpec };
    const served = NAD_CRD as unknown as { metadata: { name: string }; spec: CrdSpec };
    assert.equal(crd.metadata.name, served.metadata.name);
    assert.equal(crd.spec.group, served.spec.group);
    assert.equal(crd.spec.scope, served.spec.scope);
    for (const name of ["kind", "listKind", "plural", "singular"] as const)
      assert.equal(crd.spec.names[name], served.spec.names[name], name);
    assert.deepEqual(crd.spec.names.shortNames, ["net-attach-def", "nad"]);
    const [version] = crd.spec.versions;
    assert.deepEqual(
      [crd.spec.versions.length, version!.name, version!.served, version!.storage],
      [1, "v1", true, true],
    );
    const schema = version!.schema.openAPIV3Schema;
    assert.equal(schema.properties.spec.properties.config.type, "string");
    assert.equal(
      served.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.config.type,
      "string",
    );
  });
});

interface CrdSpec {
  group: string;
  scope: string;
  names: { kind: string; listKind: string; plural: string; singular: string; shortNames?: string[] };
  versions: {
    name: string;
    served: boolean;
    storage: boolean;
    schema: { openAPIV3Schema: { properties: { spec: { properties: { config: { type: string } } } } } };
  }[];
}
