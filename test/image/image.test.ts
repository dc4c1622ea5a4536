// The install image, built as a user builds it (`npm run image -- --save FILE`) and run with
// podman and runc as a node's runtime would run it. Needs root and podman (CI installs both; on
// hosts like CI's, podman needs scripts/podman/containers.conf, used unless CONTAINERS_CONF is set).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { blobPath, type OciIndex, type OciManifest } from "../../scripts/image/archive.ts";
import {
  EXECUTABLE_PATHS,
  IMAGE_PATH,
  imageFiles,
  imageName,
  imagePrograms,
} from "../../scripts/image/layout.ts";
import { sharedLibraries, sharedLibrariesOf } from "../../scripts/image/ldd.ts";
import { containerEnv, podman } from "../../scripts/image/podman.ts";
import { DEFAULT_AGENT_SOCKET } from "../../src/agent/protocol.ts";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import { createPod } from "../controller/support.ts";
import { container, find, podSpec, render } from "../deploy/render.ts";
import { startApiDouble } from "../k8s-api/harness.ts";
import { generateServingCertificate } from "../k8s-api/tls.ts";
import { agentMetrics } from "../support/agent.ts";
import { assertEmpty } from "../support/invariants.ts";
import {
  addressesOf,
  BINARY,
  localNetConf,
  podArgs,
  ROOT,
  run,
  type TempDir,
  tempDir,
} from "../support/plugin.ts";

const ENV = containerEnv();
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const IMAGE = imageName(VERSION);

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const fileSha256 = (path: string) => sha256(readFileSync(path));

/** `podman run --rm --network none …`, its exit status and output (a failure is a result here). */
function podmanRun(args: readonly string[], input?: string) {
  const r = spawnSync("podman", ["run", "--rm", "--network", "none", ...args], {
    env: ENV,
    encoding: "utf8",
    ...(input === undefined ? {} : { input }),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function podmanLogs(name: string): string {
  const r = spawnSync("podman", ["logs", name], { env: ENV, encoding: "utf8" });
  return `${r.stdout}${r.stderr}`;
}

/** Every non-directory entry under `dir`, as absolute paths inside it. */
function entriesUnder(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const path = `${prefix}/${e.name}`;
    return e.isDirectory() ? entriesUnder(dir, path) : [path];
  });
}

describe("the OCI image (npm run image)", () => {
  let dir: TempDir;
  let archive: string;

  before(() => {
    dir = tempDir("thereabouts-image-test-");
    archive = join(dir.path, "thereabouts.tar");
    const r = spawnSync(process.execPath, [join(ROOT, "scripts", "image.ts"), "--save", archive], {
      env: ENV,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, `npm run image failed: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^image ${IMAGE} \\(`));
  });

  after(() => {
    dir.remove();
    const left = podman(["ps", "--all", "--quiet", "--filter", `ancestor=${IMAGE}`], ENV).trim();
    assert.equal(left, "", "no container of the image is left");
  });

  it("refuses unknown arguments with its usage (exit 2)", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts", "image.ts"), "--push"], {
      encoding: "utf8",
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /usage: npm run image \[-- --save FILE\]/);
  });

  it("holds exactly the executable under both names, nsenter and ip, and the libraries ldd lists for them: no shell, no symlink", () => {
    const mount = podman(["image", "mount", IMAGE], ENV).trim();
    try {
      const programs = imagePrograms();
      assert.deepEqual(
        programs.map((p) => p.path),
        ["/usr/bin/nsenter", "/usr/bin/ip"],
      );
      const libraries = sharedLibrariesOf([BINARY.file, ...programs.map((p) => p.source)]);
      assert.ok(libraries.includes("/lib64/ld-linux-x86-64.so.2"), "the dynamic loader is among them");
      for (const p of programs)
        for (const l of sharedLibraries(p.source)) assert.ok(libraries.includes(l), `${p.path} needs ${l}`);
      const files = imageFiles(programs, libraries);
      assert.deepEqual(entriesUnder(mount).sort(), [...files].sort());
      for (const path of files) {
        assert.ok(lstatSync(join(mount, path)).isFile(), `${path} is a regular file`);
        const source = (EXECUTABLE_PATHS as readonly string[]).includes(path)
          ? BINARY.file
          : (programs.find((p) => p.path === path)?.source ?? realpathSync(path));
        assert.equal(fileSha256(join(mount, path)), fileSha256(source), `${path} is the build's file`);
      }
      const [thereabouts, whereabouts] = ["/thereabouts", "/whereabouts"].map((p) =>
        lstatSync(join(mount, p)),
      );
      assert.equal(whereabouts!.ino, thereabouts!.ino, "/whereabouts is a hard link to /thereabouts");
      assert.equal(thereabouts!.mode & 0o777, 0o755);
      for (const p of programs) assert.equal(lstatSync(join(mount, p.path)).mode & 0o777, 0o755, p.path);
      assert.throws(() => lstatSync(join(mount, "bin", "sh")), /ENOENT/);
    } finally {
      podman(["image", "unmount", IMAGE], ENV);
    }
  });

  it("runs /thereabouts, nsenter and ip, carries the OCI labels and PATH, and `podman run IMAGE version` prints the package's version", () => {
    const [config] = JSON.parse(podman(["image", "inspect", IMAGE], ENV)) as {
      Os: string;
      Architecture: string;
      Config: { Entrypoint: string[]; Env: string[]; Labels: Record<string, string> };
    }[];
    assert.equal(config!.Os, "linux");
    assert.equal(config!.Architecture, "amd64");
    assert.deepEqual(config!.Config.Entrypoint, ["/thereabouts"]);
    assert.deepEqual(config!.Config.Env, [`PATH=${IMAGE_PATH}`]);
    assert.equal(config!.Config.Labels["org.opencontainers.image.version"], VERSION);
    assert.equal(config!.Config.Labels["org.opencontainers.image.title"], "thereabouts");
    assert.equal(config!.Config.Labels["org.opencontainers.image.licenses"], "Apache-2.0");
    const version = podmanRun([IMAGE, "version"]);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, new RegExp(`^thereabouts ${VERSION.replaceAll(".", "\\.")}\\n`));
    const cni = podmanRun(["--entrypoint", "/whereabouts", "-e", "CNI_COMMAND=VERSION", IMAGE], "{}");
    assert.equal(cni.code, 0, cni.stderr);
    assert.ok(
      (JSON.parse(cni.stdout) as { supportedVersions: string[] }).supportedVersions.includes("1.1.0"),
    );
    // The programs run from the image, found on its PATH, with the libraries it carries.
    const nsenter = podmanRun(["--entrypoint", "nsenter", IMAGE, "--version"]);
    assert.equal(nsenter.code, 0, nsenter.stderr);
    assert.match(nsenter.stdout, /^nsenter from util-linux /);
    const links = podmanRun(["--entrypoint", "ip", IMAGE, "-j", "link", "show"]);
    assert.equal(links.code, 0, links.stderr);
    assert.deepEqual(
      (JSON.parse(links.stdout) as { ifname: string }[]).map((l) => l.ifname),
      ["lo"],
    );
  });

  it("runs the plugin inside the image on the embedded store in a mounted directory (ADD, DEL)", async () => {
    const store = join(dir.path, "in-image-store");
    mkdirSync(store);
    const config = localNetConf("/var/lib/cni/thereabouts/store.db", "198.18.60.0/29");
    const call = (command: string) =>
      podmanRun(
        [
          ...["-v", `${store}:/var/lib/cni/thereabouts`],
          ...["-e", `CNI_COMMAND=${command}`, "-e", "CNI_CONTAINERID=ctr-in-image", "-e", "CNI_IFNAME=eth0"],
          ...["-e", "CNI_NETNS=/var/run/netns/in-image", "-e", "CNI_PATH=/opt/cni/bin"],
          ...["-e", `CNI_ARGS=${podArgs("in-image")}`, "-i", IMAGE],
        ],
        config,
      );
    const added = call("ADD");
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.equal(
      (JSON.parse(added.stdout) as { ips: { address: string }[] }).ips[0]!.address,
      "198.18.60.1/29",
    );
    const deleted = call("DEL");
    assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
    const s = await openLocalStore(join(store, "store.db"));
    try {
      await assertEmpty(s);
    } finally {
      await s.close();
    }
  });

  it("--save writes an OCI archive (layout, verified blobs, Docker's manifest.json) that podman loads into empty storage", () => {
    const unpacked = join(dir.path, "unpacked");
    mkdirSync(unpacked);
    assert.equal(spawnSync("tar", ["-xf", archive, "-C", unpacked]).status, 0);
    const json = (path: string) => JSON.parse(readFileSync(join(unpacked, path), "utf8")) as unknown;
    assert.deepEqual(json("oci-layout"), { imageLayoutVersion: "1.0.0" });
    const index = json("index.json") as OciIndex & { schemaVersion: number };
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.manifests.length, 1);
    const entry = index.manifests[0]!;
    assert.equal(entry.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.equal(entry.annotations?.["org.opencontainers.image.ref.name"], IMAGE);
    // Every descriptor names a blob of exactly that size and digest (containerd and Docker check).
    const blob = (d: { digest: string; size: number }) => {
      const data = readFileSync(join(unpacked, blobPath(d.digest)));
      assert.equal(data.length, d.size, `${d.digest} size`);
      assert.equal(`sha256:${sha256(data)}`, d.digest, `${d.digest} content`);
      return data;
    };
    const manifest = JSON.parse(blob(entry).toString()) as OciManifest;
    assert.equal(manifest.config.mediaType, "application/vnd.oci.image.config.v1+json");
    const config = JSON.parse(blob(manifest.config).toString()) as {
      os: string;
      architecture: string;
      rootfs: { diff_ids: string[] };
    };
    assert.equal(config.os, "linux");
    assert.equal(config.architecture, "amd64");
    assert.equal(manifest.layers.length, config.rootfs.diff_ids.length);
    for (const [i, layer] of manifest.layers.entries()) {
      assert.equal(layer.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
      assert.equal(`sha256:${sha256(gunzipSync(blob(layer)))}`, config.rootfs.diff_ids[i], "layer diff ID");
    }
    const referenced = [entry, manifest.config, ...manifest.layers].map((d) => `/${blobPath(d.digest)}`);
    assert.deepEqual(
      entriesUnder(unpacked).sort(),
      ["/index.json", "/manifest.json", "/oci-layout", ...referenced].sort(),
      "nothing else in the archive",
    );
    assert.deepEqual(json("manifest.json"), [
      {
        Config: blobPath(manifest.config.digest),
        RepoTags: [IMAGE],
        Layers: manifest.layers.map((l) => blobPath(l.digest)),
      },
    ]);

    // Loaded into storage of its own, the archive alone is a working image.
    const storage = join(dir.path, "storage");
    const own = [
      "--root",
      join(storage, "root"),
      "--runroot",
      join(storage, "run"),
      "--tmpdir",
      join(storage, "tmp"),
    ];
    try {
      assert.match(
        podman([...own, "load", "--quiet", "--input", archive], ENV),
        new RegExp(`Loaded image: ${IMAGE}`),
      );
      const version = podman([...own, "run", "--rm", "--network", "none", IMAGE, "version"], ENV);
      assert.match(version, new RegExp(`^thereabouts ${VERSION.replaceAll(".", "\\.")}\\n`));
    } finally {
      spawnSync("podman", [...own, "rmi", "--all", "--force"], { env: ENV, stdio: "ignore" });
    }
  });

  it("the installer run from the image into bind-mounted host directories installs a plugin that then allocates on the local store", async () => {
    const [bin, conf, sa, store] = ["bin", "net.d", "serviceaccount", "store"].map((d) => {
      const path = join(dir.path, "host", d);
      mkdirSync(path, { recursive: true });
      return path;
    }) as [string, string, string, string];
    const token = "image-test-token";
    writeFileSync(join(sa, "token"), token);
    writeFileSync(join(sa, "ca.crt"), generateServingCertificate().caPem);
    writeFileSync(join(sa, "namespace"), "kube-system");
    const install = podmanRun([
      ...["-v", `${bin}:/host/opt/cni/bin`, "-v", `${conf}:/host/etc/cni/net.d`],
      ...["-v", `${sa}:/var/run/secrets/kubernetes.io/serviceaccount`],
      ...[
        "-e",
        "KUBERNETES_SERVICE_HOST=10.96.0.1",
        "-e",
        "KUBERNETES_SERVICE_PORT=443",
        "-e",
        "NODENAME=node-a",
      ],
      ...[IMAGE, "install", "--once"],
    ]);
    assert.equal(install.code, 0, `install --once: ${install.stdout}${install.stderr}`);
    for (const name of ["thereabouts", "whereabouts"]) {
      const stat = lstatSync(join(bin, name));
      assert.ok(stat.isFile(), `${name} is a regular file, not a symlink`);
      assert.equal(stat.mode & 0o777, 0o755, `${name} mode`);
      assert.equal(fileSha256(join(bin, name)), fileSha256(BINARY.file), `${name} is the image's executable`);
    }
    const written = join(conf, "whereabouts.d");
    const kubeconfig = readFileSync(join(written, "whereabouts.kubeconfig"), "utf8");
    assert.equal(lstatSync(join(written, "whereabouts.kubeconfig")).mode & 0o777, 0o600);
    assert.ok(kubeconfig.includes("https://10.96.0.1:443"), "the kubeconfig names the API server");
    assert.ok(kubeconfig.includes(token), "the kubeconfig carries the ServiceAccount token");
    assert.ok(lstatSync(join(written, "whereabouts.conf")).isFile());
    assert.equal(readFileSync(join(written, "nodename"), "utf8").trim(), "node-a");

    // The plugin as the runtime finds it in the bin directory, working alone (no node agent).
    const plugin = { file: join(bin, "whereabouts") };
    const attachment = {
      config: localNetConf(join(store, "store.db"), "198.18.61.0/29"),
      containerId: "ctr-installed",
      ifName: "eth0",
      netns: "/var/run/netns/installed",
      cniArgs: podArgs("installed"),
      env: { THEREABOUTS_AGENT_SOCKET: join(store, "no-agent.sock") },
    };
    const added = await run({ command: "ADD", ...attachment }, plugin);
    assert.deepEqual(addressesOf(added), ["198.18.61.1/29"]);
    const deleted = await run({ command: "DEL", ...attachment }, plugin);
    assert.equal(deleted.code, 0, deleted.stdout);
    const s = await openLocalStore(join(store, "store.db"));
    try {
      await assertEmpty(s);
    } finally {
      await s.close();
    }
  });

  it("the agent in a container with the DaemonSet's mounts serves plugins on the host through its socket, and declines paths it does not share", async () => {
    const [run_, shared, hostOnly] = ["run", "shared", "host-only"].map((d) => {
      const path = join(dir.path, "agent", d);
      mkdirSync(path, { recursive: true, mode: 0o700 });
      return path;
    }) as [string, string, string];
    const socket = join(run_, "agent.sock");
    const name = `thereabouts-agent-test-${process.pid}`;
    const started = spawnSync(
      "podman",
      [
        ...["run", "--detach", "--name", name, "--network", "none", "--read-only"],
        ...["-v", `${run_}:${run_}`, "-v", `${shared}:${shared}`],
        ...[IMAGE, "agent", "--socket", socket, "--host-paths", shared],
      ],
      { env: ENV, encoding: "utf8" },
    );
    assert.equal(started.status, 0, started.stderr);
    try {
      for (let i = 0; !existsSync(socket); i++) {
        assert.ok(i < 200, `the agent did not create its socket: ${podmanLogs(name)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      const env = { THEREABOUTS_AGENT_SOCKET: socket };
      // The flat file that names the store: shared, so the agent reads what the host has.
      writeFileSync(
        join(shared, "whereabouts.conf"),
        JSON.stringify({ datastore: "local", local: { path: join(shared, "store.db") } }),
      );
      const sharedConfig = JSON.stringify({
        cniVersion: "0.3.1",
        name: "shared-net",
        ipam: { type: "whereabouts", range: "198.18.62.0/29", configuration_path: shared },
      });
      // The same flat file, but the network names a store the container does not share: declined
      // once the configuration is decoded (store "local"), run by the plugin on the host.
      const outside = JSON.stringify({
        cniVersion: "0.3.1",
        name: "outside-net",
        ipam: {
          type: "whereabouts",
          range: "198.18.63.0/29",
          configuration_path: shared,
          local: { path: join(hostOnly, "store.db") },
        },
      });
      const attach = (config: string, pod: string) => ({
        config,
        containerId: `ctr-${pod}`,
        ifName: "net1",
        netns: `/var/run/netns/${pod}`,
        cniArgs: podArgs(pod),
        env,
      });
      const got: string[] = [];
      for (const [config, pod] of [
        [sharedConfig, "a"],
        [sharedConfig, "b"],
        [outside, "c"],
        [outside, "d"],
      ] as const) {
        const o = await run({ command: "ADD", ...attach(config, pod) });
        assert.equal(o.code, 0, `${pod}: ${o.stdout}${o.stderr}`);
        assert.doesNotMatch(o.stderr, /did not answer|working without it/, o.stderr);
        got.push(...addressesOf(o));
      }
      assert.deepEqual(got, ["198.18.62.1/29", "198.18.62.2/29", "198.18.63.1/29", "198.18.63.2/29"]);
      const metrics = await agentMetrics(socket);
      assert.match(metrics, /thereabouts_agent_calls_total\{command="ADD",store="local",result="ok"\} 2\n/);
      assert.match(
        metrics,
        /thereabouts_agent_calls_total\{command="ADD",store="local",result="declined"\} 2\n/,
      );
      for (const [config, pod] of [
        [sharedConfig, "a"],
        [sharedConfig, "b"],
        [outside, "c"],
        [outside, "d"],
      ] as const)
        assert.equal((await run({ command: "DEL", ...attach(config, pod) })).code, 0);
      for (const path of [join(shared, "store.db"), join(hostOnly, "store.db")]) {
        const s = await openLocalStore(path);
        try {
          await assertEmpty(s);
        } finally {
          await s.close();
        }
      }
    } finally {
      spawnSync("podman", ["stop", "--time", "5", name], { env: ENV });
      spawnSync("podman", ["rm", "--force", name], { env: ENV });
    }
    assert.equal(existsSync(socket), false, "SIGTERM: the agent removed its socket");
  });

  it("the agent run from the image with the multus-thick overlay's mounts and arguments serves bin/multus ADD and DEL of a pod in a network namespace (thick mode)", async () => {
    // The overlay's agent, as the kubelet would run it: its arguments, env, security context and
    // hostPath mounts. The host paths are moved under a scratch root (this machine's /opt/cni/bin
    // and /etc/cni are not the test's to write), the same for every mount and --host-paths entry;
    // the network namespace directories stay the host's, where `ip netns` makes namespaces.
    const ds = find(render("overlays/multus-thick"), "DaemonSet", "thereabouts");
    const spec = podSpec(ds);
    const agent = container(ds, "agent");
    const root = join(dir.path, "thick");
    const netnsDirs = ["/run/netns", "/var/run/netns"];
    const moved = (path: string) => (netnsDirs.includes(path) ? path : `${root}${path}`);
    const podmanArgs: string[] = [];
    for (const m of agent.volumeMounts ?? []) {
      const host = spec.volumes?.find((v) => v.name === m.name)?.hostPath?.path;
      assert.equal(host, m.mountPath, `${m.mountPath}: mounted at its host path`);
      mkdirSync(moved(host), { recursive: true, mode: 0o700 });
      const propagation = (m as { mountPropagation?: string }).mountPropagation;
      const options = [
        ...(m.readOnly === true ? ["ro"] : []),
        ...(propagation === "HostToContainer" ? ["rslave"] : []),
      ];
      podmanArgs.push(
        "-v",
        `${moved(host)}:${moved(m.mountPath)}${options.length > 0 ? `:${options.join(",")}` : ""}`,
      );
    }
    const args = [...(agent.args ?? [])];
    const hostPaths = args.indexOf("--host-paths") + 1;
    assert.ok(hostPaths > 0);
    args[hostPaths] = args[hostPaths]!.split(",").map(moved).join(",");
    const socket = `${moved(dirname(DEFAULT_AGENT_SOCKET))}/agent.sock`;
    const node = "node-thick";
    for (const e of agent.env ?? []) {
      const field = (e.valueFrom as { fieldRef?: { fieldPath: string } } | undefined)?.fieldRef?.fieldPath;
      assert.equal(field, "spec.nodeName", e.name);
      podmanArgs.push("-e", `${e.name}=${node}`);
    }
    const sc = agent.securityContext as {
      privileged?: boolean;
      readOnlyRootFilesystem?: boolean;
      runAsUser?: number;
    };
    podmanArgs.push(
      ...(sc.privileged === true ? ["--privileged"] : []),
      ...(sc.readOnlyRootFilesystem === true ? ["--read-only"] : []),
      ...["--user", String(sc.runAsUser)],
      ...["--network", spec["hostNetwork"] === true ? "host" : "none"],
    );

    // The host's side: the delegates in the bin directory, multus' kubeconfig and the flat file
    // where install --multus and install write them, a NAD of macvlan with thereabouts IPAM on the
    // local store in the shared /var/lib/cni/thereabouts, a pod annotated with it.
    const bin = moved("/opt/cni/bin");
    for (const plugin of ["macvlan", "static"]) copyFileSync(join("/usr/lib/cni", plugin), join(bin, plugin));
    copyFileSync(BINARY.file, join(bin, "thereabouts"));
    const api = await startApiDouble({ token: "thick-token" });
    const master = `thabthk${process.pid % 10000}`;
    const ns = `thab-thick-${process.pid}`;
    const name = `thereabouts-thick-test-${process.pid}`;
    let started = false;
    try {
      const confDir = moved("/etc/cni/net.d");
      mkdirSync(join(confDir, "multus.d"));
      mkdirSync(join(confDir, "whereabouts.d"));
      const kubeconfig = join(confDir, "multus.d", "multus.kubeconfig");
      writeFileSync(kubeconfig, readFileSync(api.kubeconfigPath("default")), { mode: 0o600 });
      const store = join(moved("/var/lib/cni/thereabouts"), "store.db");
      writeFileSync(
        join(confDir, "whereabouts.d", "whereabouts.conf"),
        JSON.stringify({ datastore: "local", local: { path: store } }),
      );
      const created = await api.request(
        "POST",
        "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions",
        {
          apiVersion: "k8s.cni.cncf.io/v1",
          kind: "NetworkAttachmentDefinition",
          metadata: { name: "thick-net" },
          spec: {
            config: JSON.stringify({
              cniVersion: "1.0.0",
              type: "macvlan",
              master,
              mode: "bridge",
              ipam: {
                type: "thereabouts",
                range: "198.18.64.0/29",
                configuration_path: join(confDir, "whereabouts.d"),
              },
            }),
          },
        },
      );
      assert.equal(created.status, 201, created.body);
      const uid = await createPod(api, "default", "thick-pod", {
        nodeName: node,
        annotations: { "k8s.v1.cni.cncf.io/networks": "thick-net" },
      });
      // The macvlans' parent in the host's namespace (a veth: this kernel has no dummy links).
      assert.equal(
        spawnSync("ip", ["link", "add", master, "type", "veth", "peer", "name", `${master}p`]).status,
        0,
      );
      assert.equal(spawnSync("ip", ["link", "set", master, "up"]).status, 0);
      // /run/netns made a shared mount (ip netns does it once), so that namespaces made later
      // reach the container through its HostToContainer (rslave) mounts.
      assert.equal(spawnSync("ip", ["netns", "add", `${ns}-first`]).status, 0);
      spawnSync("ip", ["netns", "del", `${ns}-first`]);

      const run_ = spawnSync(
        "podman",
        [...["run", "--detach", "--name", name, ...podmanArgs], ...[IMAGE, ...args, "--socket", socket]],
        { env: ENV, encoding: "utf8" },
      );
      assert.equal(run_.status, 0, run_.stderr);
      started = true;
      for (let i = 0; !existsSync(socket); i++) {
        assert.ok(i < 200, `the agent did not create its socket: ${podmanLogs(name)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      // The pod's namespace, made after the agent started (as the runtime makes it).
      assert.equal(spawnSync("ip", ["netns", "add", ns]).status, 0);

      const conf = JSON.stringify({
        cniVersion: "1.0.0",
        name: "multus-cni-network",
        type: "multus",
        kubeconfig,
        binDir: bin,
        confDir: moved("/etc/cni/multus/net.d"),
        cniDir: moved("/var/lib/cni/multus"),
        delegates: [
          {
            cniVersion: "1.0.0",
            name: "cluster",
            type: "macvlan",
            master,
            mode: "bridge",
            ipam: { type: "static", addresses: [{ address: "198.18.65.2/24" }] },
          },
        ],
      });
      const multus = (command: string) =>
        spawnSync(join(ROOT, "bin", "multus"), [], {
          input: conf,
          encoding: "utf8",
          env: {
            PATH: process.env["PATH"] ?? "",
            THEREABOUTS_AGENT_SOCKET: socket,
            CNI_COMMAND: command,
            CNI_CONTAINERID: "ctr-thick",
            CNI_NETNS: `/var/run/netns/${ns}`,
            CNI_IFNAME: "eth0",
            CNI_PATH: bin,
            CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=thick-pod;K8S_POD_INFRA_CONTAINER_ID=ctr-thick;K8S_POD_UID=${uid}`,
          },
        });
      const addresses = () =>
        Object.fromEntries(
          (
            JSON.parse(spawnSync("ip", ["-n", ns, "-j", "addr", "show"], { encoding: "utf8" }).stdout) as {
              ifname: string;
              addr_info: { family: string; local: string; prefixlen: number }[];
            }[]
          ).map((l) => [
            l.ifname,
            l.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`),
          ]),
        );
      const count = (metrics: string, series: string) =>
        Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\d+)$`, "m").exec(metrics)?.[1] ?? 0);

      const added = multus("ADD");
      assert.equal(added.status, 0, `ADD: ${added.stdout}${added.stderr}${podmanLogs(name)}`);
      assert.doesNotMatch(added.stderr, /did not answer|working without it/, "the agent answered");
      let metrics = await agentMetrics(socket);
      assert.equal(count(metrics, 'thereabouts_agent_multus_calls_total{command="ADD",result="ok"}'), 1);
      assert.equal(
        count(metrics, 'thereabouts_agent_multus_calls_total{command="ADD",result="declined"}'),
        0,
      );
      assert.equal(
        count(metrics, 'thereabouts_agent_calls_total{command="ADD",store="local",result="ok"}'),
        1,
        "the IPAM delegate, run in the container, handed its call to the same agent",
      );
      assert.deepEqual(addresses(), {
        lo: [],
        eth0: ["198.18.65.2/24"],
        net1: ["198.18.64.1/29"],
      });
      const pod = JSON.parse(
        (await api.request("GET", "/api/v1/namespaces/default/pods/thick-pod")).body,
      ) as {
        metadata: { annotations: Record<string, string> };
      };
      const status = JSON.parse(pod.metadata.annotations["k8s.v1.cni.cncf.io/network-status"]!) as {
        interface: string;
        ips: string[];
      }[];
      assert.deepEqual(
        status.map((s) => [s.interface, s.ips]),
        [
          ["eth0", ["198.18.65.2"]],
          ["net1", ["198.18.64.1"]],
        ],
      );

      const deleted = multus("DEL");
      assert.equal(deleted.status, 0, `DEL: ${deleted.stdout}${deleted.stderr}${podmanLogs(name)}`);
      assert.doesNotMatch(deleted.stderr, /did not answer|working without it/);
      metrics = await agentMetrics(socket);
      assert.equal(count(metrics, 'thereabouts_agent_multus_calls_total{command="DEL",result="ok"}'), 1);
      assert.deepEqual(addresses(), { lo: [] }, "net1 and eth0 removed");
      const s = await openLocalStore(store);
      try {
        await assertEmpty(s);
      } finally {
        await s.close();
      }
    } finally {
      if (started) {
        spawnSync("podman", ["stop", "--time", "5", name], { env: ENV });
        spawnSync("podman", ["rm", "--force", name], { env: ENV });
      }
      spawnSync("ip", ["netns", "del", ns]);
      spawnSync("ip", ["link", "del", master]);
      await api.stop();
    }
    assert.equal(existsSync(socket), false, "SIGTERM: the agent removed its socket");
  });
});
