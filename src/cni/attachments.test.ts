import assert from "node:assert/strict";
import { test } from "node:test";
import type { Json } from "../config/json-parse.ts";
import { validAttachments } from "./attachments.ts";

const pair = (containerID: string, ifname: string) => ({ containerID, ifname });

test("validAttachments() reads cni.dev/valid-attachments", () => {
  const config = { "cni.dev/valid-attachments": [pair("c1", "eth0"), pair("c2", "net1")] };
  assert.deepEqual(validAttachments(config), [
    { containerId: "c1", ifName: "eth0" },
    { containerId: "c2", ifName: "net1" },
  ]);
});

test("validAttachments() prefers valid-attachments over the older cni.dev/attachments", () => {
  const config = {
    "cni.dev/attachments": [pair("old", "eth0")],
    "cni.dev/valid-attachments": [pair("new", "eth0")],
  };
  assert.deepEqual(validAttachments(config), [{ containerId: "new", ifName: "eth0" }]);
});

test("validAttachments() falls back to cni.dev/attachments", () => {
  assert.deepEqual(validAttachments({ "cni.dev/attachments": [pair("c1", "eth0")] }), [
    { containerId: "c1", ifName: "eth0" },
  ]);
});

test("validAttachments() reads null and [] as no valid attachments", () => {
  assert.deepEqual(validAttachments({ "cni.dev/valid-attachments": null }), []);
  assert.deepEqual(validAttachments({ "cni.dev/valid-attachments": [] }), []);
});

test("validAttachments() lets no null spelling hide the list or an entry's keys, as the Go decoder does", () => {
  const config = {
    "cni.dev/valid-attachments": [{ containerID: "c1", ContainerID: null, ifname: "eth0", IFNAME: null }],
    "CNI.DEV/VALID-ATTACHMENTS": null,
  };
  assert.deepEqual(validAttachments(config), [{ containerId: "c1", ifName: "eth0" }]);
  // A null under any spelling is still the key given: no valid attachments, no fallback.
  assert.deepEqual(
    validAttachments({ "CNI.dev/Valid-Attachments": null, "cni.dev/attachments": [pair("old", "eth0")] }),
    [],
  );
});

test("validAttachments() matches entry keys case-insensitively", () => {
  const config = { "cni.dev/valid-attachments": [{ ContainerId: "c1", IfName: "eth0" }] };
  assert.deepEqual(validAttachments(config), [{ containerId: "c1", ifName: "eth0" }]);
});

test("validAttachments() refuses a request without the list (code 7)", () => {
  assert.throws(() => validAttachments({ name: "net" }), {
    code: 7,
    message: 'GC request has no list of valid attachments: missing "cni.dev/valid-attachments"',
  });
});

test("validAttachments() rejects malformed lists with code 7", () => {
  const cases: [Json, string][] = [
    [{}, 'invalid "cni.dev/valid-attachments": expected a list of {containerID, ifname}, got object'],
    ["c1", 'invalid "cni.dev/valid-attachments": expected a list of {containerID, ifname}, got string'],
    [
      ["c1"],
      'invalid "cni.dev/valid-attachments": entry 0 must be an object {containerID, ifname}, got string',
    ],
    [
      [null],
      'invalid "cni.dev/valid-attachments": entry 0 must be an object {containerID, ifname}, got null',
    ],
    [
      [pair("c1", "eth0"), { ifname: "eth0" }],
      'invalid "cni.dev/valid-attachments": entry 1 needs a non-empty string "containerID"',
    ],
    [
      [{ containerID: "c1", ifname: 3 }],
      'invalid "cni.dev/valid-attachments": entry 0 needs a string "ifname"',
    ],
  ];
  for (const [list, message] of cases) {
    assert.throws(() => validAttachments({ "cni.dev/valid-attachments": list }), { code: 7, message });
  }
  assert.throws(() => validAttachments({ "cni.dev/attachments": 5 }), {
    code: 7,
    message: 'invalid "cni.dev/attachments": expected a list of {containerID, ifname}, got number',
  });
});
