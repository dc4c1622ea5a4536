// The lab itself (netns-harness.ts, netns-runs.ts): labs built at the same time do not collide and
// each is removed without touching the other; a failing test's after hook removes its lab's
// namespaces, daemons and directory; what a killed run left is found and removed by the next run.
// The last two run a fixture (fixtures/) in a child process. Root only.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { LabSnapshot } from "./fixtures/busy-lab.ts";
import { CNI_VERSION, Lab, requirePrerequisites, staticIpam } from "./netns-harness.ts";
import { leftoversOf, removeStaleRuns } from "./netns-runs.ts";
import { listNamespaces, waitUntil } from "./netns-shell.ts";

const FIXTURES = join(import.meta.dirname, "fixtures");

before(async () => {
  requirePrerequisites({ plugins: ["macvlan", "static", "dhcp"], tools: ["dnsmasq"] });
  await removeStaleRuns();
});

after(async () => {
  const ours = (await listNamespaces()).filter((n) => n.includes(`-${process.pid}-`));
  assert.deepEqual(ours, [], "every namespace this run created is gone");
});

/**
 * Runs a fixture with node; resolves with its exit and output once it has exited. A fixture still
 * running after `timeoutMs` (e.g. kept alive by daemons nobody stopped) is killed and reported.
 */
function runFixture(
  args: readonly string[],
  snapshotFile: string,
  options: { killWhenReady?: boolean; timeoutMs?: number } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    // Without NODE_TEST_CONTEXT the child's `node --test` runs its file instead of deferring to us.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(process.execPath, [...args], {
      env: { ...env, LAB_SNAPSHOT_FILE: snapshotFile },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group, so a timeout can end the runner's test process too
    });
    let output = "";
    const collect = (d: Buffer) => {
      output += d.toString();
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => {
      process.kill(-child.pid!, "SIGKILL");
      reject(
        new Error(`fixture ${args.join(" ")} still ran after ${options.timeoutMs ?? 15_000} ms:\n${output}`),
      );
    }, options.timeoutMs ?? 15_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
    if (options.killWhenReady)
      // The fixture alone (a crash): its daemons live on, as a crashed run's would.
      waitUntil("the fixture's lab to be ready", () => existsSync(snapshotFile), 15_000).then(
        () => child.kill("SIGKILL"),
        () => {}, // the timer above reports it
      );
  });
}

function readSnapshot(file: string): LabSnapshot {
  const snapshot = JSON.parse(readFileSync(file, "utf8")) as LabSnapshot;
  // What the fixture made: LAN, two nodes, the DHCP server's namespace and two pods; two daemons.
  assert.equal(snapshot.namespaces.length, 6, `the fixture's namespaces: ${snapshot.namespaces}`);
  assert.equal(snapshot.processes.length, 2, "dnsmasq and the dhcp daemon");
  return snapshot;
}

async function twoPodLab(): Promise<{ lab: Lab; ping(): Promise<void> }> {
  const lab = await Lab.create({ nodes: ["node-a", "node-b"] });
  const pods = [await lab.addPod({ node: "node-a" }), await lab.addPod({ node: "node-b" })];
  for (const [i, pod] of pods.entries()) {
    // The same names and addresses in every lab: only the namespaces keep them apart.
    await lab.add("macvlan", pod, {
      cniVersion: CNI_VERSION,
      name: "same-net",
      type: "macvlan",
      master: pod.node.uplink,
      ipam: staticIpam([{ address: `192.0.2.${i + 1}/24` }]),
    });
  }
  return {
    lab,
    ping: async () => {
      await lab.ping(pods[0]!, "192.0.2.2");
      await lab.ping(pods[1]!, "192.0.2.1");
    },
  };
}

test("two labs built at once (same node names, links and addresses) work side by side; disposing one leaves the other", async (t) => {
  const [one, two] = await Promise.all([twoPodLab(), twoPodLab()]);
  t.after(() => Promise.all([one.lab.dispose(), two.lab.dispose()]).then(() => {}));
  assert.notEqual(one.lab.tag, two.lab.tag);
  const names = async (lab: Lab) => (await listNamespaces()).filter((n) => n.includes(`-${lab.tag}`)).sort();
  assert.equal((await names(one.lab)).length, 5, "LAN, two nodes, two pods");
  assert.equal((await names(two.lab)).length, 5);
  await Promise.all([one.ping(), two.ping()]);

  await one.lab.dispose();
  assert.deepEqual(await names(one.lab), [], "the first lab is gone");
  assert.equal(existsSync(one.lab.dir), false, "with its directory");
  assert.equal((await names(two.lab)).length, 5, "the second lab is whole");
  await two.ping();
});

test("a test that fails leaves nothing: its after hook stops the daemons and removes namespaces and directory", async (t) => {
  const scratch = await Lab.create();
  t.after(() => scratch.dispose());
  const snapshotFile = join(scratch.dir, "snapshot.json");
  const run = await runFixture(
    ["--test", "--test-reporter=tap", join(FIXTURES, "failing-lab.fixture.ts")],
    snapshotFile,
  );
  assert.equal(run.code, 1, `the fixture's test fails:\n${run.output}`);
  assert.match(run.output, /deliberate failure/);
  const snapshot = readSnapshot(snapshotFile);
  const afterHook = JSON.parse(readFileSync(`${snapshotFile}.after`, "utf8")) as { running: number[] };
  assert.deepEqual(afterHook.running, [], "no daemon ran after dispose() in the after hook");
  assert.deepEqual(await leftoversOf(snapshot.tag, snapshot.dir), {
    namespaces: [],
    processes: [],
    dirs: [],
  });
});

test("a killed run's namespaces, daemons and directory are found and removed by the next run", async (t) => {
  const scratch = await Lab.create();
  t.after(() => scratch.dispose());
  const snapshotFile = join(scratch.dir, "snapshot.json");
  const run = await runFixture([join(FIXTURES, "crashing-lab.ts")], snapshotFile, { killWhenReady: true });
  assert.equal(run.signal, "SIGKILL", run.output);
  const snapshot = readSnapshot(snapshotFile);
  const left = await leftoversOf(snapshot.tag, snapshot.dir);
  assert.deepEqual(left.namespaces.sort(), [...snapshot.namespaces].sort(), "its namespaces are left");
  assert.deepEqual(left.processes.sort(), [...snapshot.processes].sort(), "its daemons still run");
  assert.deepEqual(left.dirs, [snapshot.dir], "its directory is left");

  const removed = await removeStaleRuns();
  for (const ns of snapshot.namespaces) assert.ok(removed.namespaces.includes(ns), `${ns} reported removed`);
  for (const pid of snapshot.processes) assert.ok(removed.processes.includes(pid), `${pid} reported killed`);
  assert.ok(removed.dirs.includes(snapshot.dir));
  assert.deepEqual(await leftoversOf(snapshot.tag, snapshot.dir), {
    namespaces: [],
    processes: [],
    dirs: [],
  });
  assert.ok(existsSync(scratch.dir), "this run's own lab is not taken for a stale one");
});
