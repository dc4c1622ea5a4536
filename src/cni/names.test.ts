import assert from "node:assert/strict";
import { test } from "node:test";
import { validateContainerId, validateIfName, validateNetworkName } from "./names.ts";

test("validateContainerId() accepts runtime-style ids", () => {
  for (const id of ["a", "0", "abc123", "a_b.c-d", "A-", "f00d".repeat(16)]) validateContainerId(id);
});

test("validateContainerId() rejects an empty id with code 3", () => {
  assert.throws(() => validateContainerId(""), { code: 3, message: "missing containerID" });
});

test("validateContainerId() rejects bad characters with code 4 and the id as details", () => {
  for (const id of ["-a", "_a", ".a", "a b", "a/b", "a:b", "a\n", "ä", "a$"]) {
    assert.throws(() => validateContainerId(id), {
      code: 4,
      message: "invalid characters in containerID",
      details: id,
    });
  }
});

test("validateIfName() accepts kernel-valid names up to 15 bytes", () => {
  for (const name of ["eth0", "net1", "a", "...", "a.b", "x".repeat(15), "veth-1_2@x"]) validateIfName(name);
});

test("validateIfName() names the rule that failed (code 4)", () => {
  const cases: [string, string, string | undefined][] = [
    ["", "interface name is empty", undefined],
    ["x".repeat(16), "interface name is too long", "interface name should be less than 16 characters"],
    // Counted in bytes: 8 two-byte characters are 16 bytes.
    ["é".repeat(8), "interface name is too long", "interface name should be less than 16 characters"],
    [".", "interface name is . or ..", undefined],
    ["..", "interface name is . or ..", undefined],
    ["a/b", "interface name contains / or : or whitespace characters", undefined],
    ["a:b", "interface name contains / or : or whitespace characters", undefined],
    ["a b", "interface name contains / or : or whitespace characters", undefined],
    ["a\tb", "interface name contains / or : or whitespace characters", undefined],
    ["a\u00a0b", "interface name contains / or : or whitespace characters", undefined],
    ["a\u0085", "interface name contains / or : or whitespace characters", undefined],
  ];
  for (const [name, message, details] of cases) {
    assert.throws(() => validateIfName(name), { code: 4, message, details }, JSON.stringify(name));
  }
});

test("validateIfName() allows U+FEFF, which Go does not count as whitespace", () => {
  validateIfName("a\ufeff");
});

test("validateNetworkName() applies the container-id pattern with code 7", () => {
  validateNetworkName("my-net.1_x");
  assert.throws(() => validateNetworkName(""), { code: 7, message: "missing network name" });
  assert.throws(() => validateNetworkName("my net"), {
    code: 7,
    message: "invalid characters found in network name",
    details: "my net",
  });
  assert.throws(() => validateNetworkName("-net"), {
    code: 7,
    message: "invalid characters found in network name",
  });
});
