import assert from "node:assert/strict";
import { test } from "node:test";
import { fakeReadFile } from "../config/test-support.ts";
import { CniError } from "../errors/errors.ts";
import { HOSTNAME_FILE, nodeNameOf } from "./node-name.ts";

const CONF = "/etc/cni/net.d/whereabouts.d";

test("nodeNameOf(): NODENAME, trimmed, wins and no file is read", () => {
  const read = fakeReadFile({ files: { [`${CONF}/nodename`]: "other", [HOSTNAME_FILE]: "host" } });
  assert.equal(nodeNameOf("  worker-1\n", CONF, read), "worker-1");
  assert.deepEqual(read.reads, []);
});

test("nodeNameOf(): <configuration_path>/nodename, then /etc/hostname (Go v0.9's order)", () => {
  const both = fakeReadFile({ files: { [`${CONF}/nodename`]: "worker-2", [HOSTNAME_FILE]: "host\n" } });
  assert.equal(nodeNameOf(undefined, CONF, both), "worker-2");
  assert.equal(nodeNameOf("   ", CONF, both), "worker-2", "a blank NODENAME counts as unset");
  const hostOnly = fakeReadFile({ files: { [HOSTNAME_FILE]: " host-3 \n" } });
  assert.equal(nodeNameOf(undefined, CONF, hostOnly), "host-3");
  assert.deepEqual(hostOnly.reads, [`${CONF}/nodename`, HOSTNAME_FILE]);
  const noPath = fakeReadFile({ files: { [HOSTNAME_FILE]: "host-4" } });
  assert.equal(nodeNameOf(undefined, undefined, noPath), "host-4");
  assert.deepEqual(noPath.reads, [HOSTNAME_FILE]);
  // An unreadable or empty nodename file is passed over, as Go falls back on any open error.
  const denied = fakeReadFile({ denied: [`${CONF}/nodename`], files: { [HOSTNAME_FILE]: "host-5" } });
  assert.equal(nodeNameOf(undefined, CONF, denied), "host-5");
  const empty = fakeReadFile({ files: { [`${CONF}/nodename`]: "\n", [HOSTNAME_FILE]: "host-6" } });
  assert.equal(nodeNameOf(undefined, CONF, empty), "host-6");
});

test("nodeNameOf(): only the first 1024 bytes of a file count", () => {
  // Go reads once into a 1024-byte buffer: what lies beyond (here "junk") is never seen.
  const long = `  worker-7${" ".repeat(2000)}junk`;
  assert.equal(
    nodeNameOf(undefined, CONF, fakeReadFile({ files: { [`${CONF}/nodename`]: long } })),
    "worker-7",
  );
});

test("nodeNameOf(): no name, or not a node name, is code 4 without the file's content", () => {
  assert.throws(
    () => nodeNameOf(undefined, CONF, fakeReadFile({})),
    (e: unknown) =>
      e instanceof CniError &&
      e.code === 4 &&
      e.message ===
        `cannot tell which node this is (tried NODENAME, ${CONF}/nodename, /etc/hostname): node slices are per node`,
  );
  assert.throws(
    () => nodeNameOf(undefined, CONF, fakeReadFile({ files: { [HOSTNAME_FILE]: "Secret Host" } })),
    (e: unknown) =>
      e instanceof CniError &&
      e.code === 4 &&
      e.message.startsWith("the node name from /etc/hostname is not a Kubernetes node name") &&
      !e.message.includes("Secret"),
  );
  assert.throws(() => nodeNameOf("UPPER", CONF, fakeReadFile({})), /from NODENAME .*: "UPPER"$/);
});
