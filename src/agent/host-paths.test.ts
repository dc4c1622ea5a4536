import assert from "node:assert/strict";
import { test } from "node:test";
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
