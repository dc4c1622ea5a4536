// LIST (selectors, pagination, snapshots) and WATCH (replay, bookmarks, 410 Gone, initial events).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WatchEvent } from "../http-client.ts";
import {
  type Api,
  configMap,
  createPool,
  expectStatus,
  ipPool,
  JSON_PATCH,
  MERGE_PATCH,
  POOLS,
  pod,
  unique,
} from "./support.ts";

const names = (list: { items: { metadata: { name: string } }[] }): string[] =>
  list.items.map((i) => i.metadata.name);
const summary = (events: readonly WatchEvent[]): string[] =>
  events.map((e) => `${e.type} ${e.object.metadata?.name ?? ""}`);

export function listWatchSuite(api: Api): void {
  describe("label and field selectors", () => {
    it("filters lists with every label selector operator", async () => {
      const path = "/api/v1/namespaces/sel/configmaps";
      await api().request("POST", path, configMap("a", { app: "a", tier: "web", env: "prod" }));
      await api().request("POST", path, configMap("b", { app: "b", tier: "db", env: "dev" }));
      await api().request("POST", path, configMap("c", { app: "c" }));
      const q = async (sel: string) =>
        names((await api().request("GET", `${path}?labelSelector=${encodeURIComponent(sel)}`)).json());
      assert.deepEqual(await q("app=a"), ["a"]);
      assert.deepEqual(await q("app==b"), ["b"]);
      assert.deepEqual(await q("app!=a"), ["b", "c"]);
      assert.deepEqual(await q("app in (a,c)"), ["a", "c"]);
      assert.deepEqual(await q("env notin (prod)"), ["b", "c"]);
      assert.deepEqual(await q("!tier"), ["c"]);
      assert.deepEqual(await q("tier"), ["a", "b"]);
      assert.deepEqual(await q("tier,app!=b"), ["a"]);
      const bad = await api().request("GET", `${path}?labelSelector=${encodeURIComponent("app in (a")}`);
      assert.match(expectStatus(bad, 400, "BadRequest").message, /^unable to parse requirement/);
    });

    it("filters pods by node, phase, name and namespace, across namespaces", async () => {
      for (const [ns, name, node] of [
        ["fs1", "p1", "n1"],
        ["fs1", "p2", "n2"],
        ["fs2", "p3", "n1"],
      ] as const)
        expectStatus(
          await api().request("POST", `/api/v1/namespaces/${ns}/pods`, pod(name, { nodeName: node })),
          201,
        );
      const q = async (sel: string) =>
        names((await api().request("GET", `/api/v1/pods?fieldSelector=${encodeURIComponent(sel)}`)).json());
      assert.deepEqual(await q("spec.nodeName=n1"), ["p1", "p3"]);
      assert.deepEqual(await q("spec.nodeName=n1,metadata.namespace=fs2"), ["p3"]);
      assert.deepEqual(await q("metadata.name=p2"), ["p2"]);
      assert.deepEqual(await q("status.phase=Pending,spec.nodeName!=n1"), ["p2"]);
      const unsupported = await api().request("GET", `/api/v1/pods?fieldSelector=spec.foo%3Dx`);
      assert.equal(
        expectStatus(unsupported, 400, "BadRequest").message,
        "field label not supported: spec.foo",
      );
      const crd = await api().request("GET", `${POOLS}?fieldSelector=spec.range%3Dx`);
      expectStatus(crd, 400, "BadRequest");
    });
  });

  describe("pagination and snapshots", () => {
    it("pages with limit/continue over a consistent snapshot", async () => {
      const path = "/api/v1/namespaces/page/configmaps";
      for (const n of ["a", "b", "c", "d", "e"])
        await api().request("POST", path, configMap(n, {}, { v: "1" }));
      const first = expectStatus(await api().request("GET", `${path}?limit=2`), 200);
      assert.deepEqual(names(first), ["a", "b"]);
      assert.equal(first.metadata.remainingItemCount, 3);
      const token = first.metadata.continue;
      assert.equal(typeof token, "string");
      await api().request("PATCH", `${path}/d`, { data: { v: "2" } }, MERGE_PATCH);
      await api().request("POST", path, configMap("cc"));
      const second = expectStatus(
        await api().request("GET", `${path}?limit=2&continue=${encodeURIComponent(token)}`),
        200,
      );
      assert.deepEqual(
        names(second),
        ["c", "d"],
        "the object created after the first page is not in the snapshot",
      );
      assert.equal(second.items[1].data.v, "1", "later pages show the snapshot's versions");
      assert.equal(second.metadata.resourceVersion, first.metadata.resourceVersion);
      const last = expectStatus(
        await api().request(
          "GET",
          `${path}?limit=2&continue=${encodeURIComponent(second.metadata.continue)}`,
        ),
        200,
      );
      assert.deepEqual(names(last), ["e"]);
      assert.equal(last.metadata.continue, undefined);
      const exact = await api().request(
        "GET",
        `${path}?resourceVersion=${first.metadata.resourceVersion}&resourceVersionMatch=Exact`,
      );
      assert.deepEqual(names(expectStatus(exact, 200)), ["a", "b", "c", "d", "e"]);
      expectStatus(await api().request("GET", `${path}?continue=garbage`), 400, "BadRequest");
      const both = await api().request("GET", `${path}?resourceVersionMatch=Exact`);
      assert.match(
        expectStatus(both, 422, "Invalid").message,
        /^ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden/,
      );
    });
  });

  describe("watch", () => {
    it("replays ADDED/MODIFIED/DELETED after a resourceVersion; DELETED carries the deletion's resourceVersion", async () => {
      const start = (await api().request("GET", POOLS)).json().metadata.resourceVersion;
      const name = unique("w");
      const created = await createPool(api, name);
      const modified = expectStatus(
        await api().request(
          "PATCH",
          `${POOLS}/${name}`,
          [{ op: "add", path: "/spec/allocations/1", value: { id: "a", podref: "n/p" } }],
          JSON_PATCH,
        ),
        200,
      );
      expectStatus(await api().request("DELETE", `${POOLS}/${name}`), 200);
      const w = await api().watch(
        `${POOLS}?watch=1&resourceVersion=${start}&fieldSelector=metadata.name%3D${name}`,
      );
      assert.equal(w.status, 200);
      assert.equal(w.headers["content-type"], "application/json");
      const events = [await w.next(), await w.next(), await w.next()] as WatchEvent[];
      w.close();
      assert.deepEqual(summary(events), [`ADDED ${name}`, `MODIFIED ${name}`, `DELETED ${name}`]);
      assert.equal(events[0]!.object.kind, "IPPool");
      assert.equal(events[0]!.object.metadata.resourceVersion, created.metadata.resourceVersion);
      assert.equal(events[1]!.object.metadata.resourceVersion, modified.metadata.resourceVersion);
      assert.ok(
        Number(events[2]!.object.metadata.resourceVersion) > Number(modified.metadata.resourceVersion),
      );
    });

    it("starts with synthetic ADDED events for resourceVersion 0 and then streams live changes", async () => {
      const ns = unique("wns");
      const path = `/api/v1/namespaces/${ns}/configmaps`;
      await api().request("POST", path, configMap("one"));
      const w = await api().watch(`${path}?watch=true&resourceVersion=0`);
      assert.deepEqual(summary([(await w.next())!]), ["ADDED one"]);
      await api().request("POST", path, configMap("two"));
      const live = (await w.next())!;
      w.close();
      assert.deepEqual(summary([live]), ["ADDED two"]);
      assert.equal(live.object.kind, "ConfigMap");
      assert.equal(live.object.apiVersion, "v1");
    });

    it("sends bookmarks, and the initial-events-end bookmark with sendInitialEvents", async () => {
      const name = unique("bm");
      await createPool(api, name);
      const w = await api().watch(
        `${POOLS}?watch=1&allowWatchBookmarks=true&resourceVersion=0&fieldSelector=metadata.name%3D${name}`,
      );
      assert.equal((await w.next())!.type, "ADDED");
      const bm = (await w.next(3_000))!;
      w.close();
      assert.equal(bm.type, "BOOKMARK");
      assert.deepEqual(Object.keys(bm.object).sort(), ["apiVersion", "kind", "metadata"]);
      assert.equal(bm.object.kind, "IPPool");
      assert.match(bm.object.metadata.resourceVersion, /^\d+$/);
      const wl = await api().watch(
        `${POOLS}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&fieldSelector=metadata.name%3D${name}`,
      );
      const [added, end] = [await wl.next(), await wl.next()];
      wl.close();
      assert.equal(added!.type, "ADDED");
      assert.equal(end!.type, "BOOKMARK");
      assert.deepEqual(end!.object.metadata.annotations, { "k8s.io/initial-events-end": "true" });
      const invalid = await api().request("GET", `${POOLS}?watch=1&sendInitialEvents=true`);
      assert.match(
        expectStatus(invalid, 422, "Invalid").message,
        /sendInitialEvents requires setting resourceVersionMatch to NotOlderThan/,
      );
    });

    it("turns selector transitions into ADDED/DELETED, watches single objects and the legacy /watch/ path", async () => {
      const ns = unique("tr");
      const path = `/api/v1/namespaces/${ns}/configmaps`;
      await api().request("POST", path, configMap("x", { app: "in" }));
      const w = await api().watch(`${path}?watch=1&labelSelector=app%3Din`);
      const single = await api().watch(`${path}/x?watch=1`);
      const legacy = await api().watch(`/api/v1/watch/namespaces/${ns}/configmaps`);
      await api().request("PATCH", `${path}/x`, { metadata: { labels: { app: "out" } } }, MERGE_PATCH);
      await api().request("PATCH", `${path}/x`, { metadata: { labels: { app: "in" } } }, MERGE_PATCH);
      const events = [await w.next(), await w.next(), await w.next()] as WatchEvent[];
      assert.deepEqual(
        events.map((e) => e.type),
        ["ADDED", "DELETED", "ADDED"],
      );
      assert.equal(
        events[1]!.object.metadata.labels.app,
        "in",
        "DELETED carries the last state that matched",
      );
      assert.deepEqual(
        (await single.rest(300)).map((e) => e.type),
        ["ADDED", "MODIFIED", "MODIFIED"],
      );
      assert.deepEqual(
        (await legacy.rest(300)).map((e) => e.type),
        ["ADDED", "MODIFIED", "MODIFIED"],
      );
      for (const s of [w, single, legacy]) s.close();
    });

    it("ends the stream after timeoutSeconds", async () => {
      const started = Date.now();
      const w = await api().watch(`${POOLS}?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dnone`);
      assert.deepEqual(await w.rest(3_000), []);
      assert.ok(w.ended);
      assert.ok(Date.now() - started >= 900);
    });

    it("answers a watch from a compacted resourceVersion with one 410 Expired ERROR event", async () => {
      const old = (await createPool(api, unique("old"))).metadata.resourceVersion;
      await createPool(api, unique("new"));
      await api().compact();
      const w = await api().watch(`${POOLS}?watch=1&resourceVersion=${old}`);
      assert.equal(w.status, 200);
      const events = await w.rest(2_000);
      assert.equal(events.length, 1);
      const e = events[0]!;
      assert.equal(e.type, "ERROR");
      assert.equal(e.object.kind, "Status");
      assert.equal(e.object.code, 410);
      assert.equal(e.object.reason, "Expired");
      assert.match(e.object.message, /^too old resource version: \d+ \(\d+\)$/);
      const list = await api().request("GET", `${POOLS}?resourceVersion=${old}&resourceVersionMatch=Exact`);
      assert.equal(
        expectStatus(list, 410, "Expired").message,
        "The resourceVersion for the provided list is too old.",
      );
      const page = (await api().request("GET", `${POOLS}?limit=1`)).json();
      await createPool(api, unique("later"));
      await api().compact();
      const expired = await api().request(
        "GET",
        `${POOLS}?limit=1&continue=${encodeURIComponent(page.metadata.continue)}`,
      );
      const status = expectStatus(expired, 410, "Expired");
      assert.match(status.message, /^The provided continue parameter is too old/);
      assert.equal(
        typeof status.metadata.continue,
        "string",
        "an inconsistent-continue token comes with the 410",
      );
      expectStatus(
        await api().request(
          "GET",
          `${POOLS}?limit=1&continue=${encodeURIComponent(status.metadata.continue)}`,
        ),
        200,
      );
      await api().request("POST", POOLS, ipPool(unique("after")));
    });
  });
}
