import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MultusKube, Nad, Pod } from "../multus/kube.ts";
import { type CachedPod, cachedPod, MultusView } from "./multus-view.ts";

/** A cache as an Informer presents it: live or not, objects by key. */
function source<T>(entries: Record<string, T> = {}) {
  const map = new Map(Object.entries(entries));
  return {
    live: true,
    map,
    get: (key: string) => map.get(key),
  };
}

function pod(
  name: string,
  uid: string,
  resourceVersion: string,
  annotations?: Record<string, string>,
): unknown {
  return {
    metadata: { namespace: "default", name, uid, resourceVersion, ...(annotations ? { annotations } : {}) },
  };
}

/** The API's answers, with the questions asked. */
function requests(pods: Record<string, Pod> = {}, nads: Record<string, Nad> = {}) {
  const asked: string[] = [];
  const kube: MultusKube = {
    async getPod(namespace, name) {
      asked.push(`get pod ${namespace}/${name}`);
      return pods[`${namespace}/${name}`];
    },
    async getNad(namespace, name) {
      asked.push(`get nad ${namespace}/${name}`);
      const nad = nads[`${namespace}/${name}`];
      return nad === undefined
        ? { missing: `network-attachment-definitions.k8s.cni.cncf.io "${name}" not found` }
        : { nad };
    },
    async setStatusAnnotation() {
      asked.push("patch status");
      return "done";
    },
    get requests() {
      return asked.length;
    },
    close() {},
  };
  return { kube, asked };
}

const nad = (name: string, config: string): Nad => ({
  metadata: { name, namespace: "default" },
  spec: { config },
});

describe("MultusView: the agent's answers from its caches", () => {
  it("a cached pod of the runtime's UID is answered without a request; another UID or none cached asks the API", async () => {
    const fresh = cachedPod(pod("web", "uid-2", "12")).pod;
    const api = requests({ "default/web": fresh, "default/new": cachedPod(pod("new", "uid-9", "13")).pod });
    const pods = source<CachedPod>({ "default/web": cachedPod(pod("web", "uid-1", "10")) });
    const view = new MultusView({ requests: api.kube, pods, nads: source<Nad>() });
    assert.equal((await view.getPod("default", "web", "uid-1"))?.metadata.uid, "uid-1");
    assert.equal((await view.getPod("default", "web", ""))?.metadata.uid, "uid-1", "no UID to compare");
    assert.deepEqual(api.asked, []);
    // Deleted and re-created under the same name: the cache has not seen it yet.
    assert.equal((await view.getPod("default", "web", "uid-2"))?.metadata.uid, "uid-2");
    // Created a moment ago: not cached yet.
    assert.equal((await view.getPod("default", "new", "uid-9"))?.metadata.uid, "uid-9");
    // Gone: the API says so (the flows then give the placeholder result).
    assert.equal(await view.getPod("default", "gone", "uid-5"), undefined);
    assert.deepEqual(api.asked, ["get pod default/web", "get pod default/new", "get pod default/gone"]);
    assert.equal(view.hits, 2);
  });

  it("a cache that does not follow the server (not listed yet, watch lost) is not used", async () => {
    const api = requests(
      { "default/web": cachedPod(pod("web", "uid-1", "11")).pod },
      { "default/a": nad("a", "{}") },
    );
    const pods = source<CachedPod>({ "default/web": cachedPod(pod("web", "uid-1", "10")) });
    const nads = source<Nad>({ "default/a": nad("a", "{}") });
    pods.live = false;
    nads.live = false;
    const view = new MultusView({ requests: api.kube, pods, nads });
    await view.getPod("default", "web", "uid-1");
    await view.getNad("default", "a");
    assert.deepEqual(api.asked, ["get pod default/web", "get nad default/a"]);
    assert.equal(view.hits, 0);
  });

  it("a cached NAD is answered; a miss is confirmed by one GET, which keeps the API's not-found text", async () => {
    const api = requests({}, { "default/new": nad("new", '{"type":"macvlan"}') });
    const nads = source<Nad>({ "default/a": nad("a", '{"type":"bridge"}') });
    const view = new MultusView({ requests: api.kube, pods: source<CachedPod>(), nads });
    assert.deepEqual(await view.getNad("default", "a"), { nad: nad("a", '{"type":"bridge"}') });
    assert.deepEqual(await view.getNad("default", "new"), { nad: nad("new", '{"type":"macvlan"}') });
    assert.deepEqual(await view.getNad("default", "gone"), {
      missing: 'network-attachment-definitions.k8s.cni.cncf.io "gone" not found',
    });
    assert.deepEqual(api.asked, ["get nad default/new", "get nad default/gone"]);
  });

  it("its own status write is read back until the watch brings that version (a DEL right after an ADD sees network-status)", async () => {
    const api = requests();
    const pods = source<CachedPod>({ "default/web": cachedPod(pod("web", "uid-1", "10")) });
    const view = new MultusView({ requests: api.kube, pods, nads: source<Nad>() });
    const status = { "k8s.v1.cni.cncf.io/network-status": "[]" };
    view.noteWritten(pod("web", "uid-1", "12", status));
    assert.deepEqual((await view.getPod("default", "web", "uid-1"))?.metadata.annotations, status);
    // The watch brings an older change first: still the written version.
    pods.map.set("default/web", cachedPod(pod("web", "uid-1", "11")));
    assert.deepEqual((await view.getPod("default", "web", "uid-1"))?.metadata.annotations, status);
    // Then a later one (someone else changed it after our write): the cache's.
    pods.map.set("default/web", cachedPod(pod("web", "uid-1", "14", { other: "x" })));
    assert.equal((await view.getPod("default", "web", "uid-1"))?.metadata.annotations, undefined);
    // The written version is forgotten once seen: an older cache entry does not bring it back.
    pods.map.set("default/web", cachedPod(pod("web", "uid-1", "11")));
    assert.equal((await view.getPod("default", "web", "uid-1"))?.metadata.annotations, undefined);
    assert.deepEqual(api.asked, []);
  });

  it("a written pod is dropped when the pod leaves the cache, and after a minute", async () => {
    let now = 0;
    const api = requests({ "default/web": cachedPod(pod("web", "uid-1", "20")).pod });
    const pods = source<CachedPod>({ "default/web": cachedPod(pod("web", "uid-1", "10")) });
    const view = new MultusView({ requests: api.kube, pods, nads: source<Nad>(), now: () => now });
    view.noteWritten(pod("web", "uid-1", "12", { "k8s.v1.cni.cncf.io/network-status": "[]" }));
    view.forget("default/web");
    assert.equal((await view.getPod("default", "web", "uid-1"))?.metadata.annotations, undefined);
    // A pod the cache does not hold (of another node, deleted): the API, whatever was written.
    view.noteWritten(pod("elsewhere", "uid-4", "15", { "k8s.v1.cni.cncf.io/network-status": "[]" }));
    assert.equal(await view.getPod("default", "elsewhere", "uid-4"), undefined);
    assert.deepEqual(api.asked.splice(0), ["get pod default/elsewhere"]);
    view.noteWritten(pod("web", "uid-1", "12", { "k8s.v1.cni.cncf.io/network-status": "[]" }));
    now = 60_000;
    view.noteWritten(pod("other", "uid-3", "13"));
    assert.equal((await view.getPod("default", "web", "uid-1"))?.metadata.annotations, undefined);
  });
});

describe("cachedPod: what the cache keeps of a pod", () => {
  it("name, namespace, UID, resourceVersion and the annotations the flows read; nothing else", () => {
    const kept = cachedPod({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "web",
        namespace: "default",
        uid: "u",
        resourceVersion: "7",
        labels: { app: "web" },
        annotations: {
          "k8s.v1.cni.cncf.io/networks": "a,b",
          "v1.multus-cni.io/default-network": "c",
          "k8s.v1.cni.cncf.io/network-status": "[]",
          "kubernetes.io/config.source": "file",
          "kubectl.kubernetes.io/last-applied-configuration": "x".repeat(10_000),
        },
      },
      spec: { nodeName: "n1", containers: [{ name: "c", image: "i" }] },
      status: { phase: "Running" },
    });
    assert.deepEqual(kept, {
      resourceVersion: "7",
      pod: {
        metadata: {
          name: "web",
          namespace: "default",
          uid: "u",
          annotations: {
            "k8s.v1.cni.cncf.io/networks": "a,b",
            "v1.multus-cni.io/default-network": "c",
            "k8s.v1.cni.cncf.io/network-status": "[]",
            "kubernetes.io/config.source": "file",
          },
        },
      },
    });
  });
});
