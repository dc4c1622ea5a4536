// The informer against the API double: resuming a watch that the server ended, and relisting when
// the resourceVersion to resume from has been compacted away (changes in between are reported);
// a query (a field selector) for the LIST and the WATCH; `live` while the watch works.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Informer } from "../../src/controller/informer.ts";
import { Kube } from "../../src/controller/kube.ts";
import { type PodState, podState } from "../../src/controller/liveness.ts";
import type { ApiDouble } from "../k8s-api/harness.ts";
import { createPod, deletePod, startApi, waitFor } from "./support.ts";

describe("informer", () => {
  let api: ApiDouble;
  let kube: Kube;
  before(async () => {
    api = await startApi({ tls: true, token: "informer" });
    kube = new Kube({
      kubeconfig: "test",
      server: api.url,
      namespace: "kube-system",
      tls: { ca: api.caPem! },
      authorization: "Bearer informer",
    });
  });
  after(async () => {
    kube?.close();
    await api?.stop();
  });

  it("lists, watches, resumes after the server ends a watch, and relists after compaction", async () => {
    await createPod(api, "ns", "before");
    const seen: string[] = [];
    const informer = new Informer<PodState>(
      kube,
      {
        path: "/api/v1/pods",
        what: "pods",
        key: (o) => podState(o).ref,
        decode: podState,
        watchTimeoutSeconds: 1,
      },
      {
        upsert: (key, next, previous, initial) =>
          seen.push(`${initial ? "initial" : previous ? "changed" : "added"} ${key} ${next.gone ?? "alive"}`),
        remove: (key) => seen.push(`removed ${key}`),
        log: () => {},
      },
    );
    void informer.run();
    try {
      await informer.waitSynced();
      assert.deepEqual(seen, ["initial ns/before alive"]);
      await createPod(api, "ns", "live", { phase: "Pending" });
      await waitFor("the watch to see the new pod", async () => informer.get("ns/live"), 5_000);
      // Outlast one server-side watch timeout: the informer resumes from the last resourceVersion.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await deletePod(api, "ns", "before");
      await waitFor("the deletion", async () => seen.includes("removed ns/before"), 5_000);

      // Hold the next resume while things change, then compact the history: it gets 410 and relists.
      await api.setFaults([{ kind: "delay", verb: "watch", resource: "pods", holdMs: 2_000, times: 1 }]);
      await new Promise((resolve) => setTimeout(resolve, 1_200)); // the open watch ends, the resume is held
      const lists = (await api.requests()).counts["list pods"] ?? 0;
      await deletePod(api, "ns", "live");
      await createPod(api, "ns", "after");
      await api.compact();
      await waitFor(
        "the relist's report",
        async () => seen.includes("removed ns/live") && informer.get("ns/after"),
        10_000,
      );
      assert.equal((await api.requests()).counts["list pods"], lists + 1, "one relist");
      assert.equal(informer.get("ns/live"), undefined);
      assert.equal(informer.size, 1);
    } finally {
      informer.stop();
    }
  });

  it("a query selects what is listed and watched; live goes with the watch: lost while it fails, back when it reopens", async () => {
    await createPod(api, "sel", "mine", { nodeName: "node-7" });
    await createPod(api, "sel", "theirs", { nodeName: "node-8" });
    const errors: string[] = [];
    const informer = new Informer<PodState>(
      kube,
      {
        path: "/api/v1/pods",
        query: `fieldSelector=${encodeURIComponent("spec.nodeName=node-7")}`,
        what: "pods of node-7",
        key: (o) => podState(o).ref,
        decode: podState,
        watchTimeoutSeconds: 1,
      },
      { log: (level, message) => level === "error" && errors.push(message) },
    );
    assert.equal(informer.live, false, "not listed yet");
    void informer.run();
    try {
      await informer.waitSynced();
      assert.equal(informer.live, true);
      assert.deepEqual(
        [...informer.values()].map((p) => p.ref),
        ["sel/mine"],
      );
      await createPod(api, "sel", "later-theirs", { nodeName: "node-8" });
      await createPod(api, "sel", "later-mine", { nodeName: "node-7" });
      await waitFor("the watch to see the new pod", async () => informer.get("sel/later-mine"), 5_000);
      assert.equal(informer.get("sel/later-theirs"), undefined);
      // The next watches are refused: the cache is no longer live, and live again once one opens.
      await api.setFaults([{ kind: "serviceUnavailable", verb: "watch", resource: "pods", times: 2 }]);
      await waitFor("the failed watch", async () => !informer.live, 5_000);
      assert.ok(errors.length > 0);
      await waitFor("a watch that opens", async () => informer.live, 10_000);
      assert.equal(informer.get("sel/mine")?.ref, "sel/mine", "what it knew is kept");
    } finally {
      informer.stop();
      await api.clearFaults();
    }
    assert.equal(informer.live, false, "stopped");
  });
});
