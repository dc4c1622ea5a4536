import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { load } from "../config/test-support.ts";
import { HostPaths } from "./host-paths.ts";

test("a path is shared only inside a listed directory, after normalising", () => {
  const paths = new HostPaths(["/etc/cni/net.d/", "/var/lib/cni/thereabouts"]);
  assert.deepEqual(paths.prefixes, ["/etc/cni/net.d", "/var/lib/cni/thereabouts"]);
  for (const p of [
    "/etc/cni/net.d",
    "/etc/cni/net.d/whereabouts.d/x.conf",
    "/var/lib/cni/thereabouts/store.db",
  ])
    assert.equal(paths.sees(p), true, p);
  for (const p of [
    "/etc/cni/net.d2/x", // a sibling with the same prefix
    "/etc/cni/net.d/../../shadow", // escapes by ..
    "/var/lib/cni/other.db",
    "etc/cni/net.d/x", // relative
    "/etc/cni/net.d/\0x",
  ])
    assert.equal(paths.sees(p), false, p);
  assert.equal(new HostPaths(["/"]).sees("/anything/at/all"), true);
});

test("the flat-file reader reports a candidate outside instead of reading it", () => {
  const paths = new HostPaths(["/etc/cni/net.d"]);
  const unseen: string[] = [];
  const read = paths.checkedReader(
    (p) => `read ${p}`,
    (why) => unseen.push(why),
  );
  assert.equal(
    read("/etc/cni/net.d/whereabouts.d/whereabouts.conf"),
    "read /etc/cni/net.d/whereabouts.d/whereabouts.conf",
  );
  assert.throws(() => read("/host/etc/cni/net.d/whereabouts.d/whereabouts.conf"));
  assert.deepEqual(unseen, ["/host/etc/cni/net.d/whereabouts.d/whereabouts.conf is outside --host-paths"]);
});

test("a symbolic link on the way (file or directory) counts only when it resolves inside the shared directories", (t) => {
  const root = mkdtempSync(join(tmpdir(), "thereabouts-host-paths-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const shared = join(root, "shared");
  const elsewhere = join(root, "elsewhere");
  mkdirSync(join(shared, "real.d"), { recursive: true });
  mkdirSync(elsewhere);
  writeFileSync(join(shared, "real.d", "whereabouts.conf"), "{}");
  writeFileSync(join(elsewhere, "whereabouts.conf"), "{}");
  symlinkSync(join(shared, "real.d"), join(shared, "inside.d"));
  symlinkSync(elsewhere, join(shared, "outside.d"));
  symlinkSync(join(root, "gone"), join(shared, "dangling.d"));
  symlinkSync(join(elsewhere, "whereabouts.conf"), join(shared, "file-link.conf"));
  const paths = new HostPaths([shared]);
  assert.equal(paths.unseenFile(join(shared, "real.d", "whereabouts.conf")), undefined);
  assert.equal(
    paths.unseenFile(join(shared, "missing.d", "whereabouts.conf")),
    undefined,
    "missing here and there",
  );
  assert.equal(paths.unseenFile(join(shared, "inside.d", "whereabouts.conf")), undefined);
  assert.match(
    paths.unseenFile(join(shared, "outside.d", "whereabouts.conf")) ?? "",
    /symbolic link out of --host-paths/,
  );
  // A directory link that does not resolve here: the host may have the file behind it.
  assert.match(paths.unseenFile(join(shared, "dangling.d", "whereabouts.conf")) ?? "", /cannot follow/);
  assert.match(paths.unseenFile(join(shared, "file-link.conf")) ?? "", /symbolic link out of --host-paths/);
  assert.match(paths.unseenFile(join(elsewhere, "whereabouts.conf")) ?? "", /outside --host-paths/);
});

test("the kubeconfig counts for a network that reads its pod, whatever its store", () => {
  const paths = new HostPaths(["/var/lib/cni"]);
  const outside = "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig";
  const local = { range: "10.0.0.0/24", datastore: "local", local: { path: "/var/lib/cni/t.db" } };
  assert.equal(
    paths.unseenIn(load({ ...local, kubernetes: { kubeconfig: outside } })),
    undefined,
    "not read",
  );
  for (const key of ["sticky_addresses", "requested_ips_from_pod"])
    assert.equal(
      paths.unseenIn(load({ ...local, [key]: true, kubernetes: { kubeconfig: outside } })),
      `${outside} is outside --host-paths`,
      key,
    );
});
