import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { aboutText, VERSION } from "./about.ts";

const released = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

test("VERSION is package.json's version", () => {
  assert.match(released, /^\d+\.\d+\.\d+/);
  assert.equal(VERSION, released);
});

test("aboutText() names the release and every CNI version the plugin answers VERSION with", () => {
  assert.equal(
    aboutText(),
    `thereabouts ${released}\nCNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n`,
  );
});
