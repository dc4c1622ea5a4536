import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../errors/errors.ts";
import { describeJson, fields, foldKey, lookup, nested } from "./decode.ts";
import { type JsonObject, parseJson } from "./json-parse.ts";

const obj = (text: string) => parseJson(text) as JsonObject;

test("lookup() matches keys case-insensitively, the last spelling in the document winning", async (t) => {
  const rows: [string, string, unknown][] = [
    ['{"range":"a"}', "range", "a"],
    ['{"RANGE":"a"}', "range", "a"],
    ['{"range":"a","Range":"b"}', "range", "b"],
    ['{"Range":"b","range":"a"}', "range", "a"],
    ['{"range":"a","Range":"b","range":"c"}', "range", "c"],
    ['{"range":"a","Range":null}', "range", "a"],
    ['{"range":null}', "range", undefined],
    ['{"other":"a"}', "range", undefined],
    ['{"\u212aubernetes":{}}', "kubernetes", {}],
    ['{"\u017fleep_for_race":1}', "sleep_for_race", 1],
  ];
  for (const [text, name, want] of rows) {
    await t.test(`${text} ${name}`, () => assert.deepEqual(lookup(obj(text), name), want));
  }
});

test("foldKey() folds ASCII case and Go's two special runes only", () => {
  assert.equal(foldKey("Etcd_Host"), "etcd_host");
  assert.equal(foldKey("\u212a\u017f"), "ks");
  assert.notEqual(foldKey("paßword"), foldKey("password"));
});

test("fields() getters return values of the expected JSON type", () => {
  const f = fields(
    obj('{"s":"x","b":false,"n":1.5,"o":{},"a":[1],"sa":["x"],"oa":[{}],"ns":"5","nn":5}'),
    (n) => n,
  );
  assert.equal(f.string("s"), "x");
  assert.equal(f.boolean("b"), false);
  assert.equal(f.number("n"), 1.5);
  assert.deepEqual(f.object("o"), {});
  assert.deepEqual(f.array("a"), [1]);
  assert.deepEqual(f.stringArray("sa"), ["x"]);
  assert.deepEqual(f.objectArray("oa"), [{}]);
  assert.equal(f.numberOrString("ns"), "5");
  assert.equal(f.numberOrString("nn"), 5);
  assert.equal(f.string("missing"), undefined);
});

test("fields() getters reject a wrong JSON type with a ConfigError naming the key and the value", async (t) => {
  const f = fields(
    obj('{"s":5,"b":"true","o":[],"a":{},"sa":["x",2],"oa":[{},"y"],"ns":true}'),
    (n) => `ipam.${n}`,
  );
  const rows: [() => unknown, string][] = [
    [() => f.string("s"), "invalid ipam.s: expected a string, got number 5"],
    [() => f.boolean("b"), 'invalid ipam.b: expected a boolean, got string "true"'],
    [() => f.object("o"), "invalid ipam.o: expected an object, got an array []"],
    [() => f.array("a"), "invalid ipam.a: expected an array, got an object {}"],
    [() => f.stringArray("sa"), "invalid ipam.sa[1]: expected a string, got number 2"],
    [() => f.objectArray("oa"), 'invalid ipam.oa[1]: expected an object, got string "y"'],
    [() => f.stringArray("s"), "invalid ipam.s: expected an array of strings, got number 5"],
    [() => f.numberOrString("ns"), "invalid ipam.ns: expected a number or a string, got boolean true"],
  ];
  for (const [fn, message] of rows) {
    await t.test(message, () => {
      assert.throws(fn, (e: unknown) => e instanceof ConfigError && e.code === 7 && e.message === message);
    });
  }
});

test("typeError() does not echo the value of a password key", () => {
  const f = fields(obj('{"etcd_password":12345,"etcd_username":12345}'), (n) => `ipam.${n}`);
  assert.throws(
    () => f.string("etcd_password"),
    /^ConfigError: invalid ipam\.etcd_password: expected a string, got number$/,
  );
  assert.throws(() => f.string("etcd_username"), /got number 12345$/);
});

test("nested() continues the parent's label path", () => {
  const parent = fields(obj('{"kubernetes":{"kubeconfig":1}}'), (n) => `ipam.${n}`);
  const child = nested(parent, "kubernetes", parent.object("kubernetes")!);
  assert.throws(
    () => child.string("kubeconfig"),
    /^ConfigError: invalid ipam\.kubernetes\.kubeconfig: expected a string/,
  );
});

test("describeJson() shortens long values", () => {
  assert.equal(describeJson(null), "null");
  const long = describeJson("x".repeat(100));
  assert.ok(long.length < 80 && long.endsWith("…"), long);
});
