import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDelegate, withCniArgs, withListVersion } from "./delegate.ts";

test("parseDelegate: a single plugin (type) and a list (plugins with types)", () => {
  const conf = parseDelegate({ cniVersion: "0.3.1", name: "a", type: "macvlan" });
  assert.deepEqual(
    [conf.isConfList, conf.confName, conf.type, conf.cniVersion],
    [false, "a", "macvlan", "0.3.1"],
  );
  const list = parseDelegate({ name: "b", plugins: [{ type: "bridge" }, { type: "tuning" }] });
  assert.deepEqual([list.isConfList, list.confName, list.type, list.cniVersion], [true, "b", "bridge", ""]);
});

test("parseDelegate: Multus' texts for a delegate it would not load", () => {
  assert.throws(() => parseDelegate({ name: "x", plugins: [] }), {
    message:
      "LoadDelegateNetConf: failed with: LoadDelegateNetConfList: delegate must have the 'type' or 'plugin' field",
  });
  assert.throws(() => parseDelegate({ name: "x", plugins: [{ type: "bridge" }, { mtu: 1 }] }), {
    message:
      "LoadDelegateNetConf: failed with: LoadDelegateNetConfList: a plugin delegate must have the 'type' field",
  });
  assert.throws(() => parseDelegate({ name: 5, type: "bridge" }), {
    message:
      "LoadDelegateNetConf: error unmarshalling delegate config: json: cannot unmarshal number into Go struct field NetConf.name of type string",
  });
  assert.throws(() => parseDelegate([1]), /cannot unmarshal array into Go value of type types.NetConf/);
});

test("withCniArgs: annotation cni-args overwrite args.cni keys, in every plugin of a list", () => {
  const conf = parseDelegate({
    name: "a",
    type: "macvlan",
    args: { cni: { keep: 1, over: "old" }, other: true },
  });
  assert.deepEqual(withCniArgs(conf, { over: "new", add: [1] }).config, {
    name: "a",
    type: "macvlan",
    args: { cni: { keep: 1, over: "new", add: [1] }, other: true },
  });
  const list = parseDelegate({
    name: "b",
    plugins: [{ type: "bridge" }, { type: "tuning", args: { cni: { x: 1 } } }],
  });
  assert.deepEqual(withCniArgs(list, { y: 2 }).config["plugins"], [
    { type: "bridge", args: { cni: { y: 2 } } },
    { type: "tuning", args: { cni: { x: 1, y: 2 } } },
  ]);
  assert.equal(withCniArgs(conf, undefined), conf);
});

test("withListVersion: a list without cniVersion runs at Multus' version; a conf is left alone", () => {
  const list = withListVersion(parseDelegate({ name: "b", plugins: [{ type: "bridge" }] }), "0.4.0");
  assert.equal(list.cniVersion, "0.4.0");
  assert.equal(list.config["cniVersion"], "0.4.0");
  const conf = parseDelegate({ name: "a", type: "macvlan" });
  assert.equal(withListVersion(conf, "0.4.0"), conf);
});
