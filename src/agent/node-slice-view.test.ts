import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NodeSlicePool } from "../pool/node-slices.ts";
import { cacheLog } from "./cache-log.ts";
import { type NodeSliceCache, type NodeSliceRequests, NodeSliceView } from "./node-slice-view.ts";

const pool = (resourceVersion: string, nodes: string[]): NodeSlicePool => ({
  name: "net",
  range: "10.0.0.0/24",
  sliceSize: "/26",
  allocations: nodes.map((nodeName, i) => ({ nodeName, sliceRange: `10.0.0.${i * 64}/26` })),
  owners: [],
  resourceVersion,
});

/** The API's answers (the stored pool, a claim's outcome), with the questions asked. */
function api(stored: NodeSlicePool | undefined) {
  const asked: string[] = [];
  const state = { stored, claimWins: true };
  const requests: NodeSliceRequests = {
    async getNodeSlicePool(name) {
      asked.push(`get ${name}`);
      return state.stored?.name === name ? state.stored : undefined;
    },
    async claim(name, index, _range, node) {
      asked.push(`claim ${name} ${index}`);
      if (!state.claimWins || state.stored === undefined) return undefined;
      const allocations = state.stored.allocations.map((a, i) =>
        i === index ? { ...a, nodeName: node } : a,
      );
      state.stored = {
        ...state.stored,
        allocations,
        resourceVersion: String(Number(state.stored.resourceVersion) + 1),
      };
      return state.stored;
    },
  };
  return { requests, asked, state };
}

/** A watch cache as the Informer presents it. */
function cache(live: boolean, pools: NodeSlicePool[] = []) {
  const map = new Map(pools.map((p) => [p.name, p]));
  const c = { live, map, stopped: false, forget: (_: string) => {} };
  const started: NodeSliceCache = {
    get live() {
      return c.live;
    },
    get: (name) => c.map.get(name),
    stop() {
      c.stopped = true;
    },
  };
  const start = (forget: (name: string) => void) => {
    c.forget = forget;
    return started;
  };
  return { c, start };
}

describe("NodeSliceView: the agent's NodeSlicePools", () => {
  it("GETs until its cache follows the server, then answers from it; a pool it lacks is confirmed by a GET", async () => {
    const { requests, asked } = api(pool("5", ["a", ""]));
    const { c, start } = cache(false, [pool("5", ["a", ""])]);
    const view = new NodeSliceView(requests, start);
    assert.equal((await view.getNodeSlicePool("net"))?.resourceVersion, "5");
    assert.deepEqual(asked, ["get net"]);
    c.live = true;
    assert.equal((await view.getNodeSlicePool("net"))?.resourceVersion, "5");
    assert.deepEqual(asked, ["get net"]);
    assert.equal(await view.getNodeSlicePool("other"), undefined);
    assert.deepEqual(asked, ["get net", "get other"]);
    assert.equal(view.hits, 1);
    view.close();
    assert.equal(c.stopped, true);
  });

  it("its own claim is answered until the watch brings that version, never an older one", async () => {
    const { requests } = api(pool("5", ["", ""]));
    const { c, start } = cache(true, [pool("5", ["", ""])]);
    const view = new NodeSliceView(requests, start);
    await view.getNodeSlicePool("net");
    assert.equal(await view.claimNodeSlice("net", 0, "10.0.0.0/26", "a"), true);
    assert.deepEqual(
      (await view.getNodeSlicePool("net"))?.allocations.map((a) => a.nodeName),
      ["a", ""],
    );
    // The watch brings the claim, then a later change: the cache answers again.
    c.map.set("net", pool("7", ["a", "b"]));
    assert.deepEqual(
      (await view.getNodeSlicePool("net"))?.allocations.map((a) => a.nodeName),
      ["a", "b"],
    );
  });

  it("a lost claim reads the pool, and the next answer shows who took the slice", async () => {
    const { requests, asked, state } = api(pool("9", ["b", ""]));
    state.claimWins = false;
    const { start } = cache(true, [pool("5", ["", ""])]);
    const view = new NodeSliceView(requests, start);
    assert.equal(await view.claimNodeSlice("net", 0, "10.0.0.0/26", "a"), false);
    assert.deepEqual(asked, ["claim net 0", "get net"]);
    assert.deepEqual(
      (await view.getNodeSlicePool("net"))?.allocations.map((a) => a.nodeName),
      ["b", ""],
    );
  });

  it("a pool deleted in the watch forgets what the agent's requests saw of it", async () => {
    const { requests, asked, state } = api(pool("9", ["a"]));
    const { c, start } = cache(false);
    const view = new NodeSliceView(requests, start);
    await view.getNodeSlicePool("net");
    c.live = true;
    // The cache has not got it yet: what the GET saw is answered.
    assert.equal((await view.getNodeSlicePool("net"))?.resourceVersion, "9");
    assert.deepEqual(asked, ["get net"]);
    state.stored = undefined;
    c.forget("net");
    // Not in the cache and nothing of its own: confirmed by a GET.
    assert.equal(await view.getNodeSlicePool("net"), undefined);
    assert.deepEqual(asked, ["get net", "get net"]);
  });
});

describe("cacheLog", () => {
  it("says once per resource that it cannot be listed (403) and what to grant", () => {
    const lines: [string, string, Record<string, unknown> | undefined][] = [];
    const line = cacheLog(
      (level, msg, fields) => lines.push([level, msg, fields]),
      "node-slice cache",
      "https://api",
    )("nodeslicepools", "grant list and watch");
    line("error", "nodeslicepools watch failed", { status: 403 });
    line("error", "nodeslicepools watch failed", { status: 403 });
    line("error", "nodeslicepools watch failed", { status: 500 });
    const refusals = lines.filter(([, msg]) => msg.includes("cannot be listed (HTTP 403)"));
    assert.equal(refusals.length, 1);
    assert.equal(refusals[0]![2]?.["hint"], "grant list and watch");
    assert.equal(lines.length, 4);
    assert.equal(lines[0]![1], "node-slice cache: nodeslicepools watch failed");
  });
});

describe("NodeSliceView before its cache follows the server", () => {
  it("calls arriving together share one GET of a pool", async () => {
    const { requests, asked } = api(pool("5", ["a"]));
    const { start } = cache(false);
    const view = new NodeSliceView(requests, start);
    const answers = await Promise.all([1, 2, 3].map(() => view.getNodeSlicePool("net")));
    assert.deepEqual(
      answers.map((p) => p?.resourceVersion),
      ["5", "5", "5"],
    );
    assert.deepEqual(asked, ["get net"]);
    await view.getNodeSlicePool("net");
    assert.deepEqual(asked, ["get net", "get net"], "a later call GETs again");
  });
});
