// AgentStore (the node agent's cached, batching view of a store) on the real sqlite store: the
// Store contract unchanged, reads answered from memory only where asked, and the invariant of
// every store — no address held twice, nothing left after DEL — with another writer changing the
// pool behind the cache's back.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { AgentStore } from "../../src/agent/agent-store.ts";
import { load } from "../../src/config/test-support.ts";
import { formatIP } from "../../src/ip/index.ts";
import { addAttachment } from "../../src/ipam/add.ts";
import { deleteAttachment } from "../../src/ipam/del.ts";
import { deadlineIn } from "../../src/ipam/retry.ts";
import { createLogger } from "../../src/log/logger.ts";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import type { PoolChange, ReadOptions, Store } from "../../src/store/store.ts";
import { storeConformance } from "../store/conformance.ts";
import { partsConformance } from "../store/conformance-parts.ts";
import { stickyConformance } from "../store/conformance-sticky.ts";
import { assertEmpty, assertNoDuplicates } from "../support/invariants.ts";

// The contract, then its parts for sticky addresses.
for (const suite of [storeConformance, stickyConformance, partsConformance])
  suite("agent store over local", async () => {
    const dir = await mkdtemp(join(tmpdir(), "thereabouts-agent-store-"));
    const path = join(dir, "store.db");
    const store = new AgentStore(await openLocalStore(path));
    return {
      store,
      reopen: async () => new AgentStore(await openLocalStore(path)),
      cleanup: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });

interface Counts {
  reads: number;
  lostRaces: number;
}

/**
 * Counts the reads that reach the store underneath, and the commits that lose a race there.
 * Without `parts` it hides the store's part reads: a store that reads pools whole (Kubernetes),
 * whose pools the agent caches.
 */
function counting(inner: Store, parts = false): Store & Counts {
  const counter = {
    reads: 0,
    lostRaces: 0,
    getPool: (name: string, options?: ReadOptions) => {
      counter.reads++;
      return inner.getPool(name, options);
    },
    commit: async (change: PoolChange) => {
      const result = await inner.commit(change);
      if (!result.ok && result.conflict === "entry") counter.lostRaces++;
      return result;
    },
  };
  return new Proxy(inner, {
    get: (target, prop) => {
      if (prop === "getPool") return counter.getPool;
      if (prop === "parts" && !parts) return undefined;
      if (prop === "commit") return counter.commit;
      if (prop === "reads") return counter.reads;
      if (prop === "lostRaces") return counter.lostRaces;
      const value = Reflect.get(target, prop, target);
      // Methods run on the store itself (its private fields are not the proxy's).
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Store & Counts;
}

const log = createLogger("error", { stderr: () => {} });
const config = load({ type: "thereabouts", range: "10.9.0.0/26" });
const pod = (i: number) => ({ containerId: `ctr${i}`, podRef: `default/pod-${i}`, ifName: "eth0" });

async function withStores(
  work: (agent: AgentStore, direct: Store, counted: Counts) => Promise<void>,
  parts = false,
) {
  const dir = await mkdtemp(join(tmpdir(), "thereabouts-agent-store-"));
  const path = join(dir, "store.db");
  const counted = counting(await openLocalStore(path), parts);
  const agent = new AgentStore(counted);
  const direct = await openLocalStore(path);
  try {
    await work(agent, direct, counted);
  } finally {
    await agent.close();
    await direct.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function addVia(store: Store, i: number, cfg = config): Promise<string> {
  const outcome = await addAttachment(store, cfg, pod(i), deadlineIn(30_000), log);
  return formatIP(outcome.addresses[0]!.address);
}

/** `addresses` (of pods 0…n-1) are all different and stored for their pods; commits were grouped. */
async function assertDistinctAndGrouped(agent: AgentStore, direct: Store, addresses: readonly string[]) {
  assert.equal(new Set(addresses).size, addresses.length);
  await assertNoDuplicates(
    direct,
    addresses.map((address, i) => ({ address, podRef: pod(i).podRef })),
  );
  const { commits, changes } = agent.stats;
  assert.ok(commits < changes, `commits were grouped (${commits} commits for ${changes} changes)`);
}

describe("AgentStore", () => {
  it("answers allocation reads from memory and plain reads from the store", async () => {
    await withStores(async (agent, _direct, counted) => {
      for (let i = 0; i < 5; i++) await addVia(agent, i);
      assert.equal(counted.reads, 1, "one read of the pool for five ADDs");
      const plain = await agent.getPool("10.9.0.0-26");
      assert.equal(plain.allocations.size, 5);
      assert.equal(counted.reads, 2);
    });
  });

  it("passes part reads through, with its changes in flight applied: concurrent ADDs choose different addresses, commits grouped", async () => {
    await withStores(async (agent, direct, counted) => {
      assert.ok(agent.parts !== undefined, "the store underneath reads parts");
      const addresses = await Promise.all(Array.from({ length: 20 }, (_, i) => addVia(agent, i)));
      assert.equal(counted.reads, 0, "no whole-pool read");
      await assertDistinctAndGrouped(agent, direct, addresses);
    }, true);
  });

  it("concurrent ADDs choose different addresses without asking the store again", async () => {
    await withStores(async (agent, direct) => {
      const addresses = await Promise.all(Array.from({ length: 20 }, (_, i) => addVia(agent, i)));
      await assertDistinctAndGrouped(agent, direct, addresses);
    });
  });

  it("never hands out an address another writer took behind the cache's back", async () => {
    await withStores(async (agent, direct) => {
      await addVia(agent, 0); // the pool is now cached
      const theirs = await Promise.all([1, 2, 3].map((i) => addVia(direct, i)));
      const ours = await Promise.all([4, 5, 6, 7].map((i) => addVia(agent, i)));
      const reported = [...theirs.map((a, i) => ({ address: a, podRef: pod(i + 1).podRef }))];
      reported.push(...ours.map((a, i) => ({ address: a, podRef: pod(i + 4).podRef })));
      await assertNoDuplicates(direct, reported);
    });
  });

  for (const overlapping of [true, false]) {
    it(`re-ADD of an attachment whose entry was freed elsewhere does not trust the cached entry (overlapping ranges ${overlapping ? "on" : "off"})`, async () => {
      const cfg = load({ type: "thereabouts", range: "10.9.0.0/26", enable_overlapping_ranges: overlapping });
      await withStores(async (agent, direct) => {
        const first = await addVia(agent, 0, cfg);
        // The controller frees pod-0's address; pod-1 gets it from another node.
        await deleteAttachment(direct, cfg, pod(0), pod(0).podRef, deadlineIn(30_000));
        assert.equal(await addVia(direct, 1, cfg), first);
        const again = await addVia(agent, 0, cfg);
        assert.notEqual(again, first, "pod-0 must not be told it still holds pod-1's address");
        await assertNoDuplicates(direct, [
          { address: first, podRef: pod(1).podRef },
          { address: again, podRef: pod(0).podRef },
        ]);
      });
    });
  }

  it("stops trusting its cache for a pool that another writer keeps changing", async () => {
    await withStores(async (agent, direct, counted) => {
      // Another node allocates between every two of ours (lowest free first, as both do).
      for (let i = 0; i < 10; i++) {
        await addVia(agent, 2 * i);
        await addVia(direct, 2 * i + 1);
      }
      assert.ok(counted.lostRaces <= 1, `at most the first cached choice loses (${counted.lostRaces} lost)`);
    });
  });

  it("DEL releases an entry written behind the cache's back", async () => {
    await withStores(async (agent, direct) => {
      await addVia(agent, 0);
      await addVia(direct, 1); // e.g. a plugin that ran without the agent
      for (const i of [0, 1])
        await deleteAttachment(agent, config, pod(i), pod(i).podRef, deadlineIn(30_000));
      await assertEmpty(direct);
    });
  });
});
