import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CURRENT_VERSION,
  compareVersions,
  incompatibleVersionError,
  isSupportedVersion,
  normalizeVersion,
  parseVersion,
  SUPPORTED_VERSIONS,
  versionAtLeast,
} from "./version.ts";

test("SUPPORTED_VERSIONS lists 0.1.0 through 1.1.0 in order, current last", () => {
  assert.deepEqual([...SUPPORTED_VERSIONS], ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
  assert.equal(CURRENT_VERSION, "1.1.0");
});

test("normalizeVersion() reads an empty version as 0.1.0", () => {
  assert.equal(normalizeVersion(""), "0.1.0");
  assert.equal(normalizeVersion("0.4.0"), "0.4.0");
});

test("isSupportedVersion() matches exactly", () => {
  assert.equal(isSupportedVersion("0.3.1"), true);
  assert.equal(isSupportedVersion("1.1.0"), true);
  for (const v of ["", "1.0", "1.2.0", "0.3.1 ", "v1.0.0"]) assert.equal(isSupportedVersion(v), false, v);
});

test("parseVersion() fills missing parts with 0 and reads '' as 0.1.0", () => {
  assert.deepEqual(parseVersion(""), [0, 1, 0]);
  assert.deepEqual(parseVersion("1"), [1, 0, 0]);
  assert.deepEqual(parseVersion("0.4"), [0, 4, 0]);
  assert.deepEqual(parseVersion("0.10.2"), [0, 10, 2]);
});

test("parseVersion() rejects non-versions with code 6", () => {
  assert.throws(() => parseVersion("abc"), {
    code: 6,
    message: 'failed to convert major version part "abc": invalid syntax',
  });
  assert.throws(() => parseVersion("1.x"), {
    code: 6,
    message: 'failed to convert minor version part "x": invalid syntax',
  });
  assert.throws(() => parseVersion("1.2.3.4"), {
    code: 6,
    message: 'invalid version "1.2.3.4": too many parts',
  });
  assert.throws(() => parseVersion("1..0"), { code: 6 });
});

test("compareVersions() orders numerically", () => {
  assert.ok(compareVersions("0.10.0", "0.4.0") > 0);
  assert.ok(compareVersions("0.3.1", "0.4.0") < 0);
  assert.equal(compareVersions("1", "1.0.0"), 0);
  assert.equal(compareVersions("", "0.1.0"), 0);
  const sorted = [...SUPPORTED_VERSIONS].reverse().sort(compareVersions);
  assert.deepEqual(sorted, [...SUPPORTED_VERSIONS]);
});

test("versionAtLeast() compares against a minimum", () => {
  assert.equal(versionAtLeast("0.4.0", "0.4.0"), true);
  assert.equal(versionAtLeast("1.0.0", "0.4.0"), true);
  assert.equal(versionAtLeast("0.3.1", "0.4.0"), false);
  assert.equal(versionAtLeast("", "0.2.0"), false);
  assert.equal(versionAtLeast("1.0.0", "1.1.0"), false);
});

test("incompatibleVersionError() names the version and the supported list as Go prints it", () => {
  const err = incompatibleVersionError("9.9.9");
  assert.equal(err.code, 1);
  assert.equal(err.message, "incompatible CNI versions");
  assert.equal(
    err.details,
    'config is "9.9.9", plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]',
  );
});
