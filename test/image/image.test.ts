// The install image, built as a user builds it (`npm run image -- --save FILE`) and run with
// podman and runc as a node's runtime would run it. Needs root and podman (CI installs both; on
// hosts like CI's, podman needs scripts/podman/containers.conf, used unless CONTAINERS_CONF is set).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { blobPath, type OciIndex, type OciManifest } from "../../scripts/image/archive.ts";
import { EXECUTABLE_PATHS, imageFiles, imageName } from "../../scripts/image/layout.ts";
import { sharedLibraries } from "../../scripts/image/ldd.ts";
import { containerEnv, podman } from "../../scripts/image/podman.ts";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
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

  it("holds exactly the executable under both names and the libraries ldd lists: no shell, no symlink", () => {
    const mount = podman(["image", "mount", IMAGE], ENV).trim();
    try {
      const libraries = sharedLibraries(BINARY.file);
      assert.ok(libraries.includes("/lib64/ld-linux-x86-64.so.2"), "the dynamic loader is among them");
      assert.deepEqual(entriesUnder(mount).sort(), imageFiles(libraries).sort());
      for (const path of imageFiles(libraries)) {
        assert.ok(lstatSync(join(mount, path)).isFile(), `${path} is a regular file`);
        const source = (EXECUTABLE_PATHS as readonly string[]).includes(path)
          ? BINARY.file
          : realpathSync(path);
        assert.equal(fileSha256(join(mount, path)), fileSha256(source), `${path} is the build's file`);
      }
      const [thereabouts, whereabouts] = ["/thereabouts", "/whereabouts"].map((p) =>
        lstatSync(join(mount, p)),
      );
      assert.equal(whereabouts!.ino, thereabouts!.ino, "/whereabouts is a hard link to /thereabouts");
      assert.equal(thereabouts!.mode & 0o777, 0o755);
      assert.throws(() => lstatSync(join(mount, "bin", "sh")), /ENOENT/);
    } finally {
      podman(["image", "unmount", IMAGE], ENV);
    }
  });

  it("runs /thereabouts, carries the OCI labels, and `podman run IMAGE version` prints the package's version", () => {
    const [config] = JSON.parse(podman(["image", "inspect", IMAGE], ENV)) as {
      Os: string;
      Architecture: string;
      Config: { Entrypoint: string[]; Labels: Record<string, string> };
    }[];
    assert.equal(config!.Os, "linux");
    assert.equal(config!.Architecture, "amd64");
    assert.deepEqual(config!.Config.Entrypoint, ["/thereabouts"]);
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
});
