// CustomResourceDefinitions (apiextensions.k8s.io/v1) and what they drive: discovery, the stored
// CRDs deciding how custom resources are pruned, validated and printed (Table), the stand-in
// naming/establishing/finalizer controllers, and the real kubectl applying deploy/crds/ and
// printing custom resources. Runs on a double of its own: it replaces the whereabouts CRDs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { load as loadYaml } from "js-yaml";
import { whereaboutsCrds } from "../crds.ts";
import { type Api, expectStatus, ipPool, JSON_PATCH, NS, ORIPS, POOLS, unique } from "./support.ts";

const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const TABLE = { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io" };
const DEPLOY_CRDS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "deploy", "crds");

// biome-ignore lint/suspicious/noExplicitAny: decoded JSON
type Obj = any;

/** Polls `read` until `done` holds of it (the stand-in controllers run after the write answers). */
async function eventually<T>(read: () => Promise<T>, done: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const condition = (crd: Obj, type: string) =>
  (crd.status?.conditions ?? []).find((c: { type: string }) => c.type === type);

/** The deploy/crds manifest of `plural`, as kubectl would read it. */
const deployCrd = (plural: string): Obj =>
  loadYaml(readFileSync(join(DEPLOY_CRDS, `whereabouts.cni.cncf.io_${plural}.yaml`), "utf8"));

/** A namespaced CRD of group example.com with one served version. */
function widgetCrd(plural: string, kind: string, extra: object = {}): Obj {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.example.com` },
    spec: {
      group: "example.com",
      names: { plural, kind },
      scope: "Namespaced",
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: { spec: { type: "object", properties: { size: { type: "integer" } } } },
            },
          },
          ...extra,
        },
      ],
    },
  };
}

async function established(api: Api, name: string): Promise<Obj> {
  return eventually(
    async () => (await api().request("GET", `${CRDS}/${name}`)).json(),
    (crd) => condition(crd, "Established")?.status === "True",
    `CRD ${name} established`,
  );
}

export function crdSuite(api: Api): void {
  describe("customresourcedefinitions", () => {
    it("are discovered in apiextensions.k8s.io/v1: cluster-scoped, short names, category, status subresource", async () => {
      const groups = (await api().request("GET", "/apis")).json().groups;
      const group = groups.find((g: { name: string }) => g.name === "apiextensions.k8s.io");
      assert.deepEqual(group.preferredVersion, { groupVersion: "apiextensions.k8s.io/v1", version: "v1" });
      const list = (await api().request("GET", "/apis/apiextensions.k8s.io/v1")).json();
      assert.deepEqual(
        list.resources.map((r: Obj) => [
          r.name,
          r.namespaced,
          r.kind,
          r.verbs.length,
          r.shortNames,
          r.categories,
        ]),
        [
          [
            "customresourcedefinitions",
            false,
            "CustomResourceDefinition",
            8,
            ["crd", "crds"],
            ["api-extensions"],
          ],
          ["customresourcedefinitions/status", false, "CustomResourceDefinition", 3, undefined, undefined],
        ],
      );
      expectStatus(
        await api().request(
          "GET",
          `/apis/apiextensions.k8s.io/v1/namespaces/${NS}/customresourcedefinitions`,
        ),
        404,
      );
    });

    it("start as Whereabouts v0.9.4 leaves them: established, no printer columns, IPPool status pruned", async () => {
      const crd = (await api().request("GET", `${CRDS}/ippools.whereabouts.cni.cncf.io`)).json();
      assert.equal(crd.kind, "CustomResourceDefinition");
      assert.deepEqual(crd.spec.conversion, { strategy: "None" });
      assert.equal(crd.spec.versions[0].additionalPrinterColumns, undefined);
      assert.deepEqual(crd.status.acceptedNames, {
        plural: "ippools",
        singular: "ippool",
        kind: "IPPool",
        listKind: "IPPoolList",
      });
      assert.deepEqual(
        crd.status.conditions.map((c: Obj) => [c.type, c.status, c.reason]),
        [
          ["NamesAccepted", "True", "NoConflicts"],
          ["Established", "True", "InitialNamesAccepted"],
        ],
      );
      assert.deepEqual(crd.status.storedVersions, ["v1alpha1"]);
      assert.ok(
        Date.now() - Date.parse(crd.metadata.creationTimestamp) > 60_000,
        "installed before the double started",
      );
      const names = (await api().request("GET", CRDS)).json().items.map((c: Obj) => c.metadata.name);
      assert.deepEqual(names, [
        "ippools.whereabouts.cni.cncf.io",
        "network-attachment-definitions.k8s.cni.cncf.io",
        "nodeslicepools.whereabouts.cni.cncf.io",
        "overlappingrangeipreservations.whereabouts.cni.cncf.io",
      ]);
      const pool = await api().request("POST", POOLS, {
        ...ipPool(unique("go")),
        status: { used: 0, free: "254" },
      });
      assert.equal(expectStatus(pool, 201).status, undefined);
      assert.match(String(pool.headers.warning), /unknown field \\"status\\"/);
    });

    it("are validated: name = plural.group, one storage version, a schema per version, structural types, columns", async () => {
      const bad = widgetCrd("gadgets", "Gadget");
      bad.metadata.name = "gadget.example.com";
      bad.spec.versions[0].storage = false;
      bad.spec.versions.push({ name: "V2", served: true, storage: false });
      bad.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size = {};
      bad.spec.versions[0].additionalPrinterColumns = [{ name: "X", type: "text", jsonPath: "spec.size" }];
      const r = expectStatus(await api().request("POST", CRDS, bad), 422, "Invalid");
      assert.deepEqual(
        r.details.causes.map((c: Obj) => `${c.field}: ${c.message}`),
        [
          'metadata.name: Invalid value: "gadget.example.com": must be spec.names.plural+"."+spec.group',
          "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].type: Required value: must not be empty for specified object fields",
          'spec.versions[0].additionalPrinterColumns[0].type: Invalid value: "text": must be one of boolean,date,integer,number,string',
          'spec.versions[0].additionalPrinterColumns[0].JSONPath: Invalid value: "spec.size": must be a simple json path starting with .',
          "spec.versions[1].name: Invalid value: \"V2\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
          "spec.versions[1].schema.openAPIV3Schema: Required value",
          "spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: must have exactly one version marked as storage version",
          "status.storedVersions: Invalid value: []string{}: must have at least one stored version",
        ],
      );
      assert.match(
        r.message,
        /^CustomResourceDefinition\.apiextensions\.k8s\.io "gadget\.example\.com" is invalid: \[/,
      );
    });

    it("a new CRD is accepted, then established, then served; its first creates wait 2 s after that", async () => {
      const posted = expectStatus(await api().request("POST", CRDS, widgetCrd("widgets", "Widget")), 201);
      // the create answers before the controllers ran: status as PrepareForCreate left it
      assert.deepEqual(posted.status, {
        conditions: null,
        acceptedNames: { plural: "", kind: "" },
        storedVersions: ["v1"],
      });
      assert.equal(posted.metadata.generation, 1);
      assert.deepEqual(posted.spec.names, {
        plural: "widgets",
        kind: "Widget",
        singular: "widget",
        listKind: "WidgetList",
      });
      const crd = await established(api, "widgets.example.com");
      assert.deepEqual(crd.status.acceptedNames, {
        plural: "widgets",
        singular: "widget",
        kind: "Widget",
        listKind: "WidgetList",
      });
      const since = Date.parse(condition(crd, "Established").lastTransitionTime);
      const widgets = `/apis/example.com/v1/namespaces/${NS}/widgets`;
      const w = {
        apiVersion: "example.com/v1",
        kind: "Widget",
        metadata: { name: "w1" },
        spec: { size: 3, color: "red" },
      };
      const created = expectStatus(await api().request("POST", widgets, w), 201);
      assert.ok(Date.now() >= since + 2_000, "the handler's justCreated wait");
      assert.deepEqual(created.spec, { size: 3 });
      const groups = (await api().request("GET", "/apis")).json().groups.map((g: Obj) => g.name);
      assert.ok(groups.includes("example.com"));
      assert.deepEqual(
        (await api().request("GET", "/apis/example.com/v1"))
          .json()
          .resources.map((r: Obj) => [r.name, r.singularName, r.kind]),
        [["widgets", "widget", "Widget"]],
      );
    });

    it("serves several versions from one storage: stored in the storage version, shown in each", async () => {
      const crd = widgetCrd("knobs", "Knob");
      crd.spec.versions.push({ ...crd.spec.versions[0], name: "v2", storage: false });
      expectStatus(await api().request("POST", CRDS, crd), 201);
      await established(api, "knobs.example.com");
      const v2 = `/apis/example.com/v2/namespaces/${NS}/knobs`;
      const knob = { apiVersion: "example.com/v2", kind: "Knob", metadata: { name: "k" }, spec: { size: 1 } };
      assert.equal(expectStatus(await api().request("POST", v2, knob), 201).apiVersion, "example.com/v2");
      const v1 = (await api().request("GET", `/apis/example.com/v1/namespaces/${NS}/knobs/k`)).json();
      assert.deepEqual([v1.apiVersion, v1.spec], ["example.com/v1", { size: 1 }]);
      const stored = (await api().objects()).collections["knobs.example.com"] as Obj[];
      assert.equal(stored[0].apiVersion, "example.com/v1");
      const group = (await api().request("GET", "/apis/example.com")).json();
      assert.deepEqual(group.preferredVersion.version, "v2");
      assert.deepEqual(
        group.versions.map((v: Obj) => v.version),
        ["v2", "v1"],
      );
    });

    it("names taken by another CRD of the group are refused (NamesAccepted False) and not served", async () => {
      expectStatus(await api().request("POST", CRDS, widgetCrd("doodads", "Doodad")), 201);
      await established(api, "doodads.example.com");
      const clash = widgetCrd("thingies", "Doodad");
      expectStatus(await api().request("POST", CRDS, clash), 201);
      const crd = await eventually(
        async () => (await api().request("GET", `${CRDS}/thingies.example.com`)).json(),
        (c) => condition(c, "NamesAccepted") !== undefined,
        "names decided",
      );
      assert.deepEqual(
        [
          condition(crd, "NamesAccepted").status,
          condition(crd, "NamesAccepted").reason,
          condition(crd, "NamesAccepted").message,
        ],
        // kind and listKind both clash; the last check's reason stands, as in the naming controller
        ["False", "ListKindConflict", '"DoodadList" is already in use'],
      );
      assert.deepEqual(
        [condition(crd, "Established").status, condition(crd, "Established").reason],
        ["False", "NotAccepted"],
      );
      expectStatus(await api().request("GET", `/apis/example.com/v1/namespaces/${NS}/thingies`), 404);
    });

    it("replacing a CRD changes pruning and validation at once; old objects read pruned; old watches end", async () => {
      const name = unique("st");
      const before = expectStatus(await api().request("POST", POOLS, ipPool(name)), 201);
      const watch = await api().watch(`${POOLS}?watch=1&resourceVersion=${before.metadata.resourceVersion}`);
      const crd = (await api().request("GET", `${CRDS}/ippools.whereabouts.cni.cncf.io`)).json();
      const ours = deployCrd("ippools");
      crd.spec.versions = ours.spec.versions;
      const replaced = expectStatus(await api().request("PUT", `${CRDS}/${crd.metadata.name}`, crd), 200);
      assert.equal(replaced.metadata.generation, crd.metadata.generation + 1);
      const changed = Date.now();
      const withStatus = await api().request(
        "PATCH",
        `${POOLS}/${name}`,
        [{ op: "add", path: "/status", value: { used: 0, free: "254" } }],
        JSON_PATCH,
      );
      assert.deepEqual(expectStatus(withStatus, 200).status, { used: 0, free: "254" });
      const wrong = await api().request("POST", POOLS, { ...ipPool(unique("st")), status: { used: "x" } });
      assert.equal(
        expectStatus(wrong, 422, "Invalid").details.causes[0].message,
        'Invalid value: "string": status.used in body must be of type integer: "string"',
      );
      // the watch opened on the old storage ends about a second after the change
      const events = await watch.rest(4_000);
      assert.equal(events.at(-1)?.object.status?.used, 0, "it saw the write made right after the change");
      assert.ok(watch.ended, "the old storage's watch ended");
      assert.ok(Date.now() - changed >= 900, "not before tearDown's second");
      // Go's CRD back: a stored status is no longer read, and the next write drops it
      crd.metadata.resourceVersion = replaced.metadata.resourceVersion;
      crd.spec.versions = replaced.spec.versions.map((v: Obj) => {
        const { additionalPrinterColumns: _, ...rest } = v;
        delete rest.schema.openAPIV3Schema.properties.status;
        return rest;
      });
      expectStatus(await api().request("PUT", `${CRDS}/${crd.metadata.name}`, crd), 200);
      assert.equal((await api().request("GET", `${POOLS}/${name}`)).json().status, undefined);
      const stored = (await api().objects()).collections["ippools.whereabouts.cni.cncf.io"] as Obj[];
      assert.deepEqual(
        stored.find((p) => p.metadata.name === name).status,
        { used: 0, free: "254" },
        "still in etcd",
      );
    });

    it("deleting a CRD marks it, deletes its resources, then the CRD; creates are forbidden meanwhile", async () => {
      const crd = widgetCrd("sprockets", "Sprocket");
      expectStatus(await api().request("POST", CRDS, crd), 201);
      await established(api, "sprockets.example.com");
      const sprockets = `/apis/example.com/v1/namespaces/${NS}/sprockets`;
      const held = {
        apiVersion: "example.com/v1",
        kind: "Sprocket",
        metadata: { name: "held", finalizers: ["example.com/hold"] },
      };
      expectStatus(await api().request("POST", sprockets, held), 201);
      expectStatus(await api().request("POST", sprockets, { ...held, metadata: { name: "free" } }), 201);
      const deleted = expectStatus(await api().request("DELETE", `${CRDS}/sprockets.example.com`), 200);
      assert.ok(deleted.metadata.deletionTimestamp);
      assert.deepEqual(deleted.metadata.finalizers, ["customresourcecleanup.apiextensions.k8s.io"]);
      assert.equal(condition(deleted, "Terminating").reason, "InstanceDeletionPending");
      // "held" keeps its finalizer, so the CRD stays terminating
      const terminating = await eventually(
        async () => (await api().request("GET", `${CRDS}/sprockets.example.com`)).json(),
        (c) => condition(c, "Terminating")?.reason === "InstanceDeletionInProgress",
        "deletion in progress",
      );
      assert.equal(terminating.kind, "CustomResourceDefinition");
      await eventually(
        async () => (await api().request("GET", sprockets)).json().items.map((i: Obj) => i.metadata.name),
        (names) => names.length === 1 && names[0] === "held",
        "instances deleted",
      );
      const refused = await api().request("POST", sprockets, { ...held, metadata: { name: "late" } });
      assert.equal(
        expectStatus(refused, 403, "Forbidden").message,
        'sprockets.example.com "late" is forbidden: create not allowed while custom resource definition is terminating',
      );
      expectStatus(
        await api().request(
          "PATCH",
          `${sprockets}/held`,
          [{ op: "remove", path: "/metadata/finalizers" }],
          JSON_PATCH,
        ),
        200,
      );
      await eventually(
        async () => (await api().request("GET", `${CRDS}/sprockets.example.com`)).status,
        (s) => s === 404,
        "CRD deleted",
      );
      expectStatus(await api().request("GET", sprockets), 404);
    });
  });

  describe("server-side printing (as=Table)", () => {
    it("prints custom resources with their CRD's columns: typed cells, Age as kubectl shows it", async () => {
      const crd = (await api().request("GET", `${CRDS}/ippools.whereabouts.cni.cncf.io`)).json();
      crd.spec.versions = deployCrd("ippools").spec.versions;
      expectStatus(await api().request("PUT", `${CRDS}/${crd.metadata.name}`, crd), 200);
      const name = unique("tbl");
      await api().request("POST", POOLS, {
        ...ipPool(name, { "1": { id: "c", podref: "ns/p", ifname: "eth0" } }),
        status: { used: 1, free: "18446744073709551613" },
      });
      const r = await api().request(
        "GET",
        `${POOLS}?fieldSelector=metadata.name%3D${name}`,
        undefined,
        TABLE,
      );
      const table = expectStatus(r, 200);
      assert.equal(table.kind, "Table");
      assert.equal(table.apiVersion, "meta.k8s.io/v1");
      assert.match(table.metadata.resourceVersion, /^\d+$/);
      assert.deepEqual(
        table.columnDefinitions.map((c: Obj) => [c.name, c.type, c.format, c.priority]),
        [
          ["Name", "string", "name", 0],
          ["Range", "string", "", 0],
          ["Used", "integer", "", 0],
          ["Free", "string", "", 0],
          ["Age", "date", "", 0],
        ],
      );
      assert.equal(
        table.columnDefinitions[1].description,
        "Custom resource definition column (in JSONPath format): .spec.range",
      );
      assert.deepEqual(table.rows[0].cells.slice(0, 4), [name, "10.0.0.0/24", 1, "18446744073709551613"]);
      assert.match(table.rows[0].cells[4], /^[0-9]s$/);
      assert.deepEqual(Object.keys(table.rows[0].object), ["kind", "apiVersion", "metadata"]);
      assert.equal(table.rows[0].object.kind, "PartialObjectMetadata");
      assert.equal(table.rows[0].object.metadata.name, name);
      // one object, the whole object, no object, v1beta1
      const one = (
        await api().request("GET", `${POOLS}/${name}?includeObject=Object`, undefined, TABLE)
      ).json();
      assert.equal(one.rows.length, 1);
      assert.deepEqual(one.rows[0].object.spec.allocations, {
        "1": { id: "c", podref: "ns/p", ifname: "eth0" },
      });
      const none = (
        await api().request("GET", `${POOLS}/${name}?includeObject=None`, undefined, TABLE)
      ).json();
      assert.deepEqual(Object.keys(none.rows[0]), ["cells"]);
      const beta = await api().request("GET", `${POOLS}/${name}`, undefined, {
        Accept: "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
      });
      assert.equal(beta.json().apiVersion, "meta.k8s.io/v1beta1");
      const badOption = await api().request("GET", `${POOLS}?includeObject=All`, undefined, TABLE);
      assert.equal(
        expectStatus(badOption, 400, "BadRequest").message,
        `Unable to convert to Table as requested: includeObject: Invalid value: "All": must be 'Metadata', 'Object', 'None', or empty`,
      );
    });

    it("a missing value is an empty cell; without columns a CRD prints Age; other resources print Name and Created At", async () => {
      const bare = unique("bare");
      await api().request("POST", POOLS, ipPool(bare));
      const table = (await api().request("GET", `${POOLS}/${bare}`, undefined, TABLE)).json();
      assert.deepEqual(table.rows[0].cells.slice(0, 4), [bare, "10.0.0.0/24", null, null]);
      const orips = (await api().request("GET", ORIPS, undefined, TABLE)).json();
      assert.deepEqual(
        orips.columnDefinitions.map((c: Obj) => c.name),
        ["Name", "Age"],
      );
      const cms = (
        await api().request("GET", `/api/v1/namespaces/${NS}/configmaps`, undefined, TABLE)
      ).json();
      assert.deepEqual(
        cms.columnDefinitions.map((c: Obj) => [c.name, c.type]),
        [
          ["Name", "string"],
          ["Created At", "date"],
        ],
      );
      const crds = (
        await api().request("GET", `${CRDS}/ippools.whereabouts.cni.cncf.io`, undefined, TABLE)
      ).json();
      assert.deepEqual(crds.rows[0].cells.slice(0, 3), [
        "ippools.whereabouts.cni.cncf.io",
        "Namespaced",
        "v1alpha1(storage)",
      ]);
      assert.equal(crds.rows[0].cells[7], true);
      // only conversions the double does not make: 406; a Table is only for reads
      const partial = await api().request("GET", POOLS, undefined, {
        Accept: "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
      });
      expectStatus(partial, 406, "NotAcceptable");
      expectStatus(await api().request("POST", POOLS, ipPool(unique("t")), TABLE), 406, "NotAcceptable");
    });
  });

  describe("kubectl (1.32) against the double", () => {
    it("applies deploy/crds (kubectl apply -k: create or configure, then unchanged) with --validate=false, the least it needs without /openapi", async () => {
      const strict = await api().kubectl(["apply", "-k", DEPLOY_CRDS]);
      assert.notEqual(strict.code, 0);
      assert.match(
        strict.stderr,
        /failed to download openapi: the server could not find the requested resource/,
      );
      const first = await api().kubectl(["apply", "-k", DEPLOY_CRDS, "--validate=false"]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(
        first.stdout,
        /customresourcedefinition\.apiextensions\.k8s\.io\/ippools\.whereabouts\.cni\.cncf\.io (configured|unchanged)/,
      );
      const again = await api().kubectl(["apply", "-k", DEPLOY_CRDS, "--validate=false"]);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(again.stdout.trim().split("\n"), [
        "customresourcedefinition.apiextensions.k8s.io/ippools.whereabouts.cni.cncf.io unchanged",
        "customresourcedefinition.apiextensions.k8s.io/nodeslicepools.whereabouts.cni.cncf.io unchanged",
        "customresourcedefinition.apiextensions.k8s.io/overlappingrangeipreservations.whereabouts.cni.cncf.io unchanged",
      ]);
      const crd = (await api().request("GET", `${CRDS}/nodeslicepools.whereabouts.cni.cncf.io`)).json();
      assert.ok(crd.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]);
      assert.deepEqual(
        crd.spec.versions[0].additionalPrinterColumns.map((c: Obj) => c.name),
        ["Range", "Slice Size", "Age"],
      );
    });

    it("applies Go's v0.9.4 CRDs back over ours: the columns and the IPPool status go again", async () => {
      const name = unique("back");
      await api().request("POST", POOLS, { ...ipPool(name), status: { used: 0, free: "254" } });
      assert.deepEqual((await api().request("GET", `${POOLS}/${name}`)).json().status, {
        used: 0,
        free: "254",
      });
      const list = { apiVersion: "v1", kind: "List", items: whereaboutsCrds() };
      const back = await api().kubectl(["apply", "--validate=false", "-f", "-"], {
        input: JSON.stringify(list),
      });
      assert.equal(back.code, 0, back.stderr);
      assert.equal(back.stdout.match(/ configured$/gm)?.length, 3, back.stdout);
      const crd = (await api().request("GET", `${CRDS}/ippools.whereabouts.cni.cncf.io`)).json();
      assert.equal(crd.spec.versions[0].additionalPrinterColumns, undefined, "removed through last-applied");
      assert.equal(crd.spec.versions[0].schema.openAPIV3Schema.properties.status, undefined);
      assert.equal((await api().request("GET", `${POOLS}/${name}`)).json().status, undefined);
      const printed = await api().kubectl(["get", "ippools", "--field-selector", `metadata.name=${name}`]);
      assert.deepEqual(printed.stdout.trim().split("\n")[0]!.trim().split(/\s+/), ["NAME", "AGE"]);
      const again = await api().kubectl(["apply", "-k", DEPLOY_CRDS, "--validate=false"]);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(
        (await api().request("GET", `${POOLS}/${name}`)).json().status,
        { used: 0, free: "254" },
        "never rewritten, so still in etcd",
      );
    });

    it("creates a CRD it has not seen, then configures it in place through the last-applied annotation", async () => {
      const manifest = widgetCrd("gizmos", "Gizmo");
      const created = await api().kubectl(["apply", "--validate=false", "-f", "-"], {
        input: JSON.stringify(manifest),
      });
      assert.equal(created.code, 0, created.stderr);
      assert.equal(
        created.stdout.trim(),
        "customresourcedefinition.apiextensions.k8s.io/gizmos.example.com created",
      );
      const uid = (await api().request("GET", `${CRDS}/gizmos.example.com`)).json().metadata.uid;
      manifest.spec.versions[0].additionalPrinterColumns = [
        { name: "Size", type: "integer", jsonPath: ".spec.size" },
      ];
      const configured = await api().kubectl(["apply", "--validate=false", "-f", "-"], {
        input: JSON.stringify(manifest),
      });
      assert.equal(configured.code, 0, configured.stderr);
      assert.equal(
        configured.stdout.trim(),
        "customresourcedefinition.apiextensions.k8s.io/gizmos.example.com configured",
      );
      const crd = (await api().request("GET", `${CRDS}/gizmos.example.com`)).json();
      assert.equal(crd.metadata.uid, uid, "updated in place");
      assert.equal(crd.metadata.generation, 2);
      assert.deepEqual(crd.spec.versions[0].additionalPrinterColumns, [
        { name: "Size", type: "integer", jsonPath: ".spec.size" },
      ]);
    });

    it("prints ippools and overlappingrangeipreservations with their printer columns", async () => {
      const name = unique("kc");
      await api().request("POST", POOLS, {
        ...ipPool(name, { "1": { id: "c", podref: "ns/p", ifname: "eth0" } }),
        status: { used: 1, free: "253" },
      });
      const orip = unique("10-0-0");
      await api().request("POST", ORIPS, {
        apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
        kind: "OverlappingRangeIPReservation",
        metadata: { name: orip },
        spec: { podref: "ns/p", ifname: "eth0", containerid: "c" },
      });
      const pools = await api().kubectl([
        "get",
        "ippools",
        "-n",
        NS,
        "--field-selector",
        `metadata.name=${name}`,
      ]);
      assert.equal(pools.code, 0, pools.stderr);
      const [head, row] = pools.stdout
        .trim()
        .split("\n")
        .map((l) => l.trim().split(/\s+/));
      assert.deepEqual(head, ["NAME", "RANGE", "USED", "FREE", "AGE"]);
      assert.deepEqual(row!.slice(0, 4), [name, "10.0.0.0/24", "1", "253"]);
      assert.match(row![4]!, /^\d+s$/);
      const reservations = await api().kubectl([
        "get",
        "overlappingrangeipreservations",
        "--field-selector",
        `metadata.name=${orip}`,
      ]);
      assert.equal(reservations.code, 0, reservations.stderr);
      const lines = reservations.stdout
        .trim()
        .split("\n")
        .map((l) => l.trim().split(/\s+/));
      assert.deepEqual(lines[0], ["NAME", "PODREF", "INTERFACE", "AGE"]);
      assert.deepEqual(lines[1]!.slice(0, 3), [orip, "ns/p", "eth0"]);
    });
  });
}
