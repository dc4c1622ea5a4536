// Install bundle: what a node downloads and how long building, starting and installing take.
// Needs root and podman (docs/install.md). It rebuilds bin/thereabouts (the cold build removes it).
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { imageName } from "../scripts/image/layout.ts";
import { containerEnv, imageId, podman } from "../scripts/image/podman.ts";
import { generateServingCertificate } from "../test/k8s-api/tls.ts";
import { fmt, percentile } from "./stats.ts";

const ROOT = join(import.meta.dirname, "..");
const EXECUTABLE = join(ROOT, "bin", "thereabouts");
const ENV = containerEnv();

/** Wall time of one command in ms; a failure ends the benchmark with its message. */
function timed(file: string, args: readonly string[]): number {
  const started = performance.now();
  const r = spawnSync(file, args, { env: ENV, encoding: "utf8" });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`${file} ${args.join(" ")} failed: ${r.stderr.trim()}`);
  return ms;
}

function p50(runs: number, once: () => number): number {
  return percentile(
    Array.from({ length: runs }, () => once()),
    50,
  );
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function removeImage(name: string): void {
  if (imageId(name, ENV) !== undefined) podman(["rmi", name], ENV);
}

/** `install --once` from the image into fresh host directories; undefined and why when it fails. */
function installOnce(
  name: string,
  workdir: string,
  i: number,
  ca: string,
): { ms?: number; failure?: string } {
  const host = join(workdir, `install-${i}`);
  const [bin, conf, sa] = ["bin", "net.d", "sa"].map((d) => join(host, d)) as [string, string, string];
  for (const d of [bin, conf, sa]) mkdirSync(d, { recursive: true });
  writeFileSync(join(sa, "token"), "bench-token");
  writeFileSync(join(sa, "ca.crt"), ca);
  writeFileSync(join(sa, "namespace"), "kube-system");
  const args = [
    ...[
      "run",
      "--rm",
      "--network",
      "none",
      "-v",
      `${bin}:/host/opt/cni/bin`,
      "-v",
      `${conf}:/host/etc/cni/net.d`,
    ],
    ...[
      "-v",
      `${sa}:/var/run/secrets/kubernetes.io/serviceaccount`,
      "-e",
      "KUBERNETES_SERVICE_HOST=10.96.0.1",
    ],
    ...["-e", "KUBERNETES_SERVICE_PORT=443", "-e", "NODENAME=bench-node", name, "install", "--once"],
  ];
  const started = performance.now();
  const r = spawnSync("podman", args, { env: ENV, encoding: "utf8" });
  const ms = performance.now() - started;
  rmSync(host, { recursive: true, force: true });
  return r.status === 0 ? { ms } : { failure: (r.stderr.split("\n")[0] ?? "").trim() };
}

export function benchImage(workdir: string): string {
  const ca = generateServingCertificate().caPem;
  const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string })
    .version;
  const name = imageName(version);
  const script = join(ROOT, "scripts", "image.ts");

  rmSync(EXECUTABLE, { force: true });
  removeImage(name);
  const cold = timed(process.execPath, [script]);
  removeImage(name);
  const built = timed(process.execPath, [script]);
  const again = p50(3, () => timed(process.execPath, [script]));
  const archive = join(workdir, "thereabouts.tar");
  const withSave = p50(3, () => timed(process.execPath, [script, "--save", archive]));

  const executable = statSync(EXECUTABLE).size;
  const image = Number(podman(["image", "inspect", "--format", "{{.Size}}", name], ENV));
  const saved = statSync(archive).size;
  const direct = p50(20, () => timed(EXECUTABLE, ["version"]));
  const inImage = p50(20, () => timed("podman", ["run", "--rm", "--network", "none", name, "version"]));
  const installs = Array.from({ length: 5 }, (_, i) => installOnce(name, workdir, i, ca));
  const failed = installs.find((r) => r.failure !== undefined);
  const install =
    failed === undefined
      ? `| \`podman run IMAGE install --once\` into empty host directories (p50 of 5) | ${fmt(
          percentile(
            installs.map((r) => r.ms!),
            50,
          ),
        )} ms |`
      : `| \`podman run IMAGE install --once\` | not measured: ${failed.failure} |`;

  return [
    "## Install bundle",
    "",
    `The image \`${name}\` (\`npm run image\`, docs/install.md): FROM scratch, the executable under`,
    "its two names (one file) and the shared libraries ldd lists. Podman 4.3 with runc, overlay storage",
    "on ext4.",
    "",
    "| what | size |",
    "|---|---|",
    `| executable \`bin/thereabouts\` (Bun-compiled, runtime included) | ${mb(executable)} |`,
    `| image, unpacked (\`podman image inspect\` Size) | ${mb(image)} |`,
    `| \`--save\` archive (OCI layout, gzip layer: what a node downloads) | ${mb(saved)} |`,
    "",
    "| what | time |",
    "|---|---|",
    `| \`npm run image\`, cold (no executable, no image) | ${seconds(cold)} |`,
    `| \`npm run image\`, executable already built, no image | ${seconds(built)} |`,
    `| \`npm run image\` again, nothing changed (same image ID; p50 of 3) | ${seconds(again)} |`,
    `| \`npm run image -- --save FILE\`, nothing changed (p50 of 3) | ${seconds(withSave)} |`,
    `| \`bin/thereabouts version\` on the host (p50 of 20) | ${fmt(direct)} ms |`,
    `| \`podman run --rm --network none IMAGE version\` (p50 of 20) | ${fmt(inImage)} ms |`,
    install,
    "",
    "Times are of `node scripts/image.ts`, which `npm run image` runs (npm's own start-up not included).",
    "",
  ].join("\n");
}
