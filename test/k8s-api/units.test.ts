// Unit tests of the API double's pure parts: patch algebra, selectors, store history, time codec.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kubeVersionOrder } from "./discovery.ts";
import { negotiate } from "./dispatch.ts";
import { applyJsonPatch, decodeJsonPatch, JsonPatchApplyError } from "./json-patch.ts";
import { type ListOptions, listVersions } from "./list.ts";
import { applyMergePatch, MergePatchError } from "./merge-patch.ts";
import type { ResourceDef } from "./resources.ts";
import { pruneObject, structuralSchema, validateObject } from "./schema.ts";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { Store, type Version } from "./store.ts";
import { applyStrategicMergePatch } from "./strategic-merge-patch.ts";
import { humanDuration, parseSimpleJsonPath, printerColumnsTable } from "./table.ts";
import { DecodeError, decodeTyped, META_FIELDS, sortedJson } from "./typed.ts";

describe("json-patch (evanphx/json-patch v4 semantics)", () => {
  const doc = { a: { "x/y": 1, "m~n": 2 }, list: [1, 2, 3] };
  it("escapes ~0 and ~1, supports negative indices and '-'", () => {
    const out = applyJsonPatch(doc, [
      { op: "replace", path: "/a/x~1y", value: 10 },
      { op: "remove", path: "/a/m~0n" },
      { op: "add", path: "/list/-", value: 4 },
      { op: "add", path: "/list/-1", value: 9 },
      { op: "remove", path: "/list/0" },
      { op: "copy", from: "/a", path: "/b" },
      { op: "move", from: "/b/x~1y", path: "/c" },
    ]);
    assert.deepEqual(out, { a: { "x/y": 10 }, list: [2, 3, 4, 9], b: {}, c: 10 });
    assert.deepEqual(doc.list, [1, 2, 3], "the input is not mutated");
  });
  it("fails tests, unknown ops, missing parents and out-of-range indices", () => {
    for (const op of [
      { op: "test", path: "/a/x~1y", value: 2 },
      { op: "test", path: "/nope/deeper", value: null },
      { op: "frobnicate", path: "/a" },
      { op: "add", path: "/list/7", value: 0 },
      { op: "remove", path: "/list/3" },
      { op: "add", path: "no-slash", value: 0 },
    ])
      assert.throws(() => applyJsonPatch(doc, [op]), JsonPatchApplyError, JSON.stringify(op));
    assert.doesNotThrow(() => applyJsonPatch(doc, [{ op: "test", path: "/missing", value: null }]));
    assert.doesNotThrow(() => applyJsonPatch(doc, [{ op: "test", path: "/list", value: [1, 2, 3] }]));
    assert.throws(
      () => decodeJsonPatch('{"op":"add"}'),
      /cannot unmarshal object into Go value of type jsonpatch.Patch/,
    );
  });
});

describe("merge and strategic merge patches", () => {
  it("merges, deletes with null, prunes nulls in new subtrees, replaces arrays", () => {
    const out = applyMergePatch(
      { a: { b: 1, c: 2 }, l: [1, 2] },
      '{"a":{"b":null,"d":{"e":null,"f":3}},"l":[3]}',
    );
    assert.deepEqual(out, { a: { c: 2, d: { f: 3 } }, l: [3] });
    assert.deepEqual(applyMergePatch({ a: 1 }, "[1]"), [1]);
    for (const bad of ["null", '"x"', "{"]) assert.throws(() => applyMergePatch({}, bad), MergePatchError);
  });
  it("merges keyed lists, unions finalizers and honours $patch directives", () => {
    const pod = {
      metadata: { finalizers: ["a"] },
      spec: {
        containers: [
          { name: "a", image: "x" },
          { name: "b", image: "y" },
        ],
      },
      status: { conditions: [{ type: "Ready", status: "False" }] },
    };
    const out = applyStrategicMergePatch(
      pod,
      JSON.stringify({
        metadata: { finalizers: ["b"] },
        spec: {
          containers: [
            { name: "a", image: "z" },
            { name: "b", $patch: "delete" },
          ],
        },
        status: {
          conditions: [
            { type: "Ready", status: "True" },
            { type: "Init", status: "True" },
          ],
        },
      }),
    );
    assert.deepEqual(out, {
      metadata: { finalizers: ["a", "b"] },
      spec: { containers: [{ name: "a", image: "z" }] },
      status: {
        conditions: [
          { type: "Ready", status: "True" },
          { type: "Init", status: "True" },
        ],
      },
    });
  });
});

describe("selectors", () => {
  it("parses and matches label selectors like labels.Parse", () => {
    const sel = parseLabelSelector("app in (a, b),!legacy,tier!=db,gen>2");
    assert.ok(matchesLabels(sel, { app: "a", gen: "3" }));
    assert.ok(!matchesLabels(sel, { app: "a", gen: "2" }));
    assert.ok(!matchesLabels(sel, { app: "a", gen: "3", legacy: "" }));
    assert.ok(!matchesLabels(sel, { app: "a", gen: "3", tier: "db" }));
    assert.ok(matchesLabels(parseLabelSelector(""), {}));
    for (const bad of ["a in b", "a=(", "x y", "a,", "gen>x", "a=b c"])
      assert.throws(() => parseLabelSelector(bad), bad);
  });
  it("parses field selectors with escapes", () => {
    const sel = parseFieldSelector("metadata.name=a\\,b,spec.nodeName!=n1");
    assert.deepEqual(sel, [
      { field: "metadata.name", op: "=", value: "a,b" },
      { field: "spec.nodeName", op: "!=", value: "n1" },
    ]);
    assert.ok(matchesFields(sel, { "metadata.name": "a,b", "spec.nodeName": "n2" }));
    assert.throws(() => parseFieldSelector("nonsense"), /invalid selector: 'nonsense'/);
  });
});

describe("store history", () => {
  const version = (key: string, rv: number, value: string): Version => ({
    key,
    namespace: "ns",
    name: key,
    uid: key,
    rv,
    json: value,
    labels: {},
    fields: {},
  });
  it("reads snapshots at older revisions and knows its watch-cache window", () => {
    const store = new Store({ initialResourceVersion: 10, watchCacheMaxEvents: 2 });
    store.put("c", "a", (rv) => version("a", rv, "a1"));
    store.put("c", "b", (rv) => version("b", rv, "b1"));
    store.put("c", "a", (rv) => version("a", rv, "a2"));
    store.remove("c", "b", (last, rv) => ({ ...last, rv }));
    assert.deepEqual(
      store.snapshot("c", 12).map((v) => v.json),
      ["a1", "b1"],
    );
    assert.deepEqual(
      store.list("c").map((v) => v.json),
      ["a2"],
    );
    const since = store.eventsSince("c", 12);
    assert.ok(since.ok && since.events.map((e) => e.type).join() === "MODIFIED,DELETED");
    assert.deepEqual(store.eventsSince("c", 10), { ok: false, oldest: 13 });
    store.compact();
    assert.throws(() => store.snapshot("c", 13));
    assert.deepEqual(store.eventsSince("c", 13), { ok: false, oldest: 15 });
    assert.ok(store.eventsSince("c", 14).ok);
  });
});

describe("store memory bound", () => {
  it("sheds the oldest history beyond maxHistoryBytes: older watches and snapshots then expire", () => {
    const store = new Store({ initialResourceVersion: 0, maxHistoryBytes: 1000 });
    for (let i = 0; i < 50; i++)
      store.put("c", "k", (rv) => ({
        key: "k",
        namespace: "",
        name: "k",
        uid: "u",
        rv,
        json: "x".repeat(100),
        labels: {},
        fields: {},
      }));
    assert.equal(store.eventsSince("c", 1).ok, false);
    assert.ok(store.eventsSince("c", 45).ok);
    assert.throws(() => store.snapshot("c", 5));
    assert.equal(store.snapshot("c", 49).length, 1);
  });
});

describe("typed codec", () => {
  it("normalises Time to whole seconds in UTC and insists on six-digit MicroTime", () => {
    const obj = {
      metadata: { creationTimestamp: "2024-05-06T07:08:09.999+02:00" },
      spec: { t: "2024-05-06T07:08:09.123456+01:00" },
    };
    decodeTyped(obj, [...META_FIELDS("ObjectMeta"), { path: "spec.t", type: "MicroTime", struct: "S" }]);
    assert.deepEqual(obj, {
      metadata: { creationTimestamp: "2024-05-06T05:08:09Z" },
      spec: { t: "2024-05-06T06:08:09.123456Z" },
    });
    assert.throws(
      () =>
        decodeTyped({ spec: { t: "2024-05-06T07:08:09Z" } }, [
          { path: "spec.t", type: "MicroTime", struct: "S" },
        ]),
      DecodeError,
    );
    assert.throws(
      () => decodeTyped({ spec: { n: "1" } }, [{ path: "spec.n", type: "int32", struct: "S" }]),
      /cannot unmarshal string into Go struct field S.spec.n of type int32/,
    );
  });
  it("serialises unstructured objects with keys in Go's byte order and HTML-escaped", () => {
    assert.equal(
      sortedJson({ b: 1, a: { "10": 0, "2": 0 }, c: "<&>" }),
      '{"a":{"10":0,"2":0},"b":1,"c":"\\u003c\\u0026\\u003e"}',
    );
  });
});

describe("server-side printing", () => {
  it("formats ages as duration.HumanDuration", () => {
    const s = 1000;
    const m = 60 * s;
    const h = 60 * m;
    const d = 24 * h;
    const rows: [number, string][] = [
      [-2 * s, "<invalid>"],
      [-1 * s, "0s"],
      [0, "0s"],
      [119 * s, "119s"],
      [2 * m, "2m"],
      [9 * m + 59 * s, "9m59s"],
      [10 * m + 30 * s, "10m"],
      [179 * m, "179m"],
      [3 * h, "3h"],
      [7 * h + 59 * m, "7h59m"],
      [8 * h, "8h"],
      [47 * h, "47h"],
      [2 * d, "2d"],
      [7 * d + 23 * h, "7d23h"],
      [8 * d, "8d"],
      [729 * d, "729d"],
      [2 * 365 * d, "2y"],
      [3 * 365 * d + 10 * d, "3y10d"],
      [8 * 365 * d + 10 * d, "8y"],
    ];
    for (const [ms, text] of rows) assert.equal(humanDuration(ms), text, String(ms));
  });

  it("parses the simple JSONPaths of printer columns and refuses the rest", () => {
    assert.deepEqual(parseSimpleJsonPath(".spec.range"), [{ field: "spec" }, { field: "range" }]);
    assert.deepEqual(parseSimpleJsonPath(".status.conditions[0].type"), [
      { field: "status" },
      { field: "conditions" },
      { index: 0 },
      { field: "type" },
    ]);
    assert.deepEqual(parseSimpleJsonPath(".metadata.labels['app.kubernetes.io/name']"), [
      { field: "metadata" },
      { field: "labels" },
      { field: "app.kubernetes.io/name" },
    ]);
    assert.deepEqual(parseSimpleJsonPath("."), []);
    for (const bad of [".items[*].x", ".a[?(@.b)]", ".a..b", "spec"])
      assert.equal(parseSimpleJsonPath(bad), undefined, bad);
  });

  it("types cells as tableconvertor does; a column that does not parse ends the columns", () => {
    const now = Date.parse("2025-01-01T00:10:00Z");
    const table = printerColumnsTable([
      { name: "S", type: "string", jsonPath: ".spec.s" },
      { name: "I", type: "integer", jsonPath: ".spec.n" },
      { name: "N", type: "number", jsonPath: ".spec.n" },
      { name: "B", type: "boolean", jsonPath: ".spec.b" },
      { name: "D", type: "date", jsonPath: ".spec.t" },
      { name: "Bad", type: "string", jsonPath: ".spec[*]" },
      { name: "After", type: "string", jsonPath: ".spec.s" },
    ]);
    assert.deepEqual(
      table.columns.map((c) => c.name),
      ["Name", "S", "I", "N", "B", "D"],
    );
    const cells = (spec: object) => table.cells({ metadata: { name: "x" }, spec } as never, now);
    assert.deepEqual(cells({ s: "a<b", n: 2.7, b: true, t: "2025-01-01T00:00:00Z" }), [
      "x",
      "a<b",
      2,
      2.7,
      true,
      "10m",
    ]);
    // string columns print whatever is there as client-go's jsonpath does; other types must match
    assert.deepEqual(cells({ s: { z: 1, a: [true] }, n: "7", b: "yes", t: "not a time" }), [
      "x",
      '{"a":[true],"z":1}',
      null,
      null,
      null,
      "<invalid>",
    ]);
    assert.deepEqual(cells({ s: 1e21 }), ["x", "1e+21", null, null, null, null]);
    assert.deepEqual(cells({}), ["x", null, null, null, null, null]);
    assert.deepEqual(
      printerColumnsTable([]).columns.map((c) => [c.name, c.type]),
      [
        ["Name", "string"],
        ["Age", "date"],
      ],
    );
  });

  it("negotiates JSON or a Table from the Accept header, by quality then order", () => {
    const kubectl =
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    assert.deepEqual(negotiate(kubectl, true), { table: { apiVersion: "meta.k8s.io/v1" } });
    assert.deepEqual(negotiate(kubectl, false), {});
    assert.deepEqual(negotiate(undefined, true), {});
    assert.deepEqual(negotiate("application/json;as=Table;v=v1;g=meta.k8s.io;q=0.5, */*", true), {});
    assert.equal(negotiate("application/json;as=Table;v=v1;g=meta.k8s.io", false), undefined);
    assert.equal(negotiate("application/json;as=Table;v=v2;g=meta.k8s.io", true), undefined);
    assert.equal(negotiate("application/yaml, application/vnd.kubernetes.protobuf", true), undefined);
  });
});

describe("CRD schemas and versions", () => {
  it("orders versions as Kubernetes does: GA, beta, alpha, then others by name", () => {
    assert.deepEqual(
      ["v1alpha1", "foo", "v1", "v2beta1", "v1beta2", "v2", "bar", "v1beta1"].sort(kubeVersionOrder),
      ["v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "bar", "foo"],
    );
  });

  it("reads openAPIV3Schema: preserve-unknown-fields keeps members, int-or-string takes either", () => {
    const schema = structuralSchema({
      type: "object",
      properties: {
        spec: {
          type: "object",
          "x-kubernetes-preserve-unknown-fields": true,
          properties: { known: { type: "object", properties: { a: { type: "string" } } } },
        },
        port: { "x-kubernetes-int-or-string": true },
      },
    });
    const obj = { spec: { any: { thing: 1 }, known: { a: "x", b: 2 } }, port: "http", junk: 1 };
    assert.deepEqual(pruneObject(obj, schema), ["spec.known.b", "junk"]);
    assert.deepEqual(obj, { spec: { any: { thing: 1 }, known: { a: "x" } }, port: "http" });
    assert.deepEqual(validateObject({ port: 8080 }, schema), []);
    assert.deepEqual(
      validateObject({ port: true }, schema).map((e) => e.detail),
      ['port in body must be of type integer,string: "boolean"'],
    );
  });
});

describe("lists pinned to one name", () => {
  const version = (ns: string, name: string, rv: number, labels: Record<string, string> = {}): Version => ({
    key: `${ns}/${name}`,
    namespace: ns,
    name,
    uid: name,
    rv,
    json: name,
    labels,
    fields: { "metadata.name": name, "metadata.namespace": ns },
  });
  const def = { namespaced: true, storage: "c" } as ResourceDef;
  const options = (field: string, label = ""): ListOptions => ({
    fieldSelector: parseFieldSelector(field),
    labelSelector: parseLabelSelector(label),
    limit: 0,
    continueToken: "",
    resourceVersion: "",
    resourceVersionMatch: "",
  });

  it("read the one key (as the apiserver's registry does), selectors still applied", async () => {
    let scans = 0;
    const store = new (class extends Store {
      override list(id: string, prefix = ""): Version[] {
        scans++;
        return super.list(id, prefix);
      }
    })();
    store.put("c", "ns/a", (rv) => version("ns", "a", rv, { owner: "x" }));
    store.put("c", "ns/b", (rv) => version("ns", "b", rv));
    store.put("c", "other/a", (rv) => version("other", "a", rv, { owner: "x" }));
    const names = async (namespace: string, o: ListOptions) =>
      (await listVersions(store, def, namespace, o, 0)).items.map((v) => v.key);
    assert.deepEqual(await names("ns", options("metadata.name=a", "owner=x")), ["ns/a"]);
    assert.deepEqual(await names("ns", options("metadata.name=b", "owner=x")), []);
    assert.deepEqual(await names("ns", options("metadata.name=none")), []);
    assert.equal(scans, 0);
    // Across namespaces the key is not known: every object is read.
    assert.deepEqual(await names("", options("metadata.name=a")), ["ns/a", "other/a"]);
    assert.deepEqual(await names("ns", options("metadata.name!=a")), ["ns/b"]);
    assert.equal(scans, 2);
  });
});
