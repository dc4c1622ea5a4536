// The etcd store against real etcd 3.4 members started on loopback ports: the Store conformance
// suite, then what only etcd has (key prefixes, TLS client certificates, auth, unreachable
// members, fail-over in a three-member cluster, requests per operation, running under Bun).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { toCniError } from "../../src/cni/skel.ts";
import { StoredDataError, StoreRefusedError, StoreUnavailableError } from "../../src/errors/errors.ts";
import { type Deadline, deadlineIn } from "../../src/ipam/retry.ts";
import { type EtcdStore, type EtcdStoreOptions, openEtcdStore } from "../../src/store/etcd/etcd-store.ts";
import type { EtcdSettings } from "../../src/store/settings.ts";
import { alloc, change, reservation, storeConformance } from "../store/conformance.ts";
import { partsConformance } from "../store/conformance-parts.ts";
import { stickyConformance } from "../store/conformance-sticky.ts";
import { EtcdCluster, freePort } from "./etcd-cluster.ts";

const here = dirname(fileURLToPath(import.meta.url));
const bun = join(here, "..", "..", "node_modules", "@oven", "bun-linux-x64", "bin", "bun");
const probe = join(here, "bun-probe.ts");

let serial = 0;
function freshPrefix(): string {
  return `/test-${process.pid}-${serial++}`;
}

function config(endpoints: readonly string[], extra: Partial<EtcdSettings> = {}): EtcdSettings {
  return { endpoints, prefix: freshPrefix(), ...extra };
}

async function withStore<T>(
  cfg: EtcdSettings,
  run: (store: EtcdStore) => Promise<T>,
  options: EtcdStoreOptions = { timeoutMs: 5_000 },
): Promise<T> {
  const store = await openEtcdStore(cfg, options);
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

/** An uncontended ADD as the orchestration does it: read the pool, commit one entry + reservation. */
async function addOne(store: EtcdStore, pool: string, offset: number, podRef: string): Promise<void> {
  const snapshot = await store.getPool(pool);
  assert.equal(snapshot.allocations.has(String(offset)), false);
  const result = await store.commit(
    change(pool, {
      create: [[String(offset), alloc(`c-${podRef}`, podRef)]],
      reserve: [reservation(`10.0.0.${offset}`, podRef, "eth0", `c-${podRef}`)],
    }),
  );
  assert.deepEqual(result, { ok: true });
}

/** Every key under the prefix with its decoded JSON value, read behind the store's back. */
async function dump(cluster: EtcdCluster, prefix: string): Promise<Record<string, unknown>> {
  const reply = (await cluster.call(0, "/v3/kv/range", {
    key: Buffer.from(`${prefix}/`).toString("base64"),
    range_end: Buffer.from(`${prefix}0`).toString("base64"),
  })) as { kvs?: { key: string; value: string }[] };
  return Object.fromEntries(
    (reply.kvs ?? []).map((kv) => [
      Buffer.from(kv.key, "base64").toString(),
      JSON.parse(Buffer.from(kv.value, "base64").toString()),
    ]),
  );
}

async function put(cluster: EtcdCluster, key: string, value: string): Promise<void> {
  await cluster.call(0, "/v3/kv/put", {
    key: Buffer.from(key).toString("base64"),
    value: Buffer.from(value).toString("base64"),
  });
}

/** A pool as the layout before index keys wrote it: a meta key without the layout key. */
async function previousLayout(
  cluster: EtcdCluster,
  prefix: string,
  pool: string,
  range: string,
): Promise<void> {
  await put(cluster, `${prefix}/pools/${pool}/meta`, JSON.stringify({ range }));
}

function rejectsUnavailable(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof StoreUnavailableError, String(error));
    assert.equal(toCniError(error).code, 11);
    assert.match(error.message, pattern);
    return true;
  };
}

/** A refusal that retrying cannot fix: code 5, not 11. */
function rejectsRefused(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof StoreRefusedError, String(error));
    assert.equal(toCniError(error).code, 5);
    assert.match(error.message, pattern);
    return true;
  };
}

/** A TLS handshake the member breaks off reads as a refusal or as a dropped connection. */
function rejectsRefusedOrUnavailable(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) =>
    error instanceof StoreRefusedError ? rejectsRefused(pattern)(error) : rejectsUnavailable(pattern)(error);
}

// One single-member cluster serves the conformance suite: a fresh key prefix per test isolates them.
let shared: EtcdCluster;
before(async () => {
  shared = await EtcdCluster.start({ inMemory: true });
});
after(async () => {
  await shared?.stop();
});

// The contract, then its parts for sticky addresses and part reads.
async function openEtcdTarget() {
  const cfg = config(shared.endpoints);
  const store = await openEtcdStore(cfg, { timeoutMs: 5_000 });
  return {
    store,
    reopen: () => openEtcdStore(cfg, { timeoutMs: 5_000 }),
    cleanup: () => store.close(),
    dropsUnnamedReservations: false,
    maxCreatesPerCommit: 40,
  };
}
storeConformance("etcd", openEtcdTarget);
stickyConformance("etcd", openEtcdTarget);
partsConformance("etcd", openEtcdTarget, { checksAbsent: true });

describe("etcd store on one member", () => {
  it("keeps installations with different prefixes apart", async () => {
    const endpoints = shared.endpoints;
    const a = freshPrefix();
    await withStore({ endpoints, prefix: a }, async (first) => {
      await withStore({ endpoints, prefix: `${a}x` }, async (second) => {
        await addOne(first, "p", 1, "ns/a");
        assert.deepEqual(await second.listPools(), []);
        assert.deepEqual(await second.listReservations(), []);
        assert.equal((await second.getPool("p")).version, undefined);
        await addOne(second, "p", 1, "ns/b");
        assert.equal((await first.getPool("p")).allocations.get("1")?.podRef, "ns/a");
        assert.equal((await second.getPool("p")).allocations.get("1")?.podRef, "ns/b");
      });
      // A trailing slash names the same installation.
      await withStore({ endpoints, prefix: `${a}/` }, async (same) => {
        assert.equal((await same.getPool("p")).allocations.get("1")?.podRef, "ns/a");
      });
    });
  });

  it("stores the documented key layout: one key per pool, per entry and per reservation, and the entries' index keys", async () => {
    const cfg = config(shared.endpoints);
    await withStore(cfg, async (store) => {
      await addOne(store, "net-10.0.0.0-24", 5, "ns/pod");
      assert.deepEqual(
        await store.commit(change("net-10.0.0.0-24", { create: [["6", alloc("c6", "ns/legacy", "")]] })),
        { ok: true },
      );
      const pool = `${cfg.prefix}/pools/net-10.0.0.0-24`;
      const five = { id: "c-ns/pod", podref: "ns/pod", ifname: "eth0" };
      const six = { id: "c6", podref: "ns/legacy" };
      assert.deepEqual(await dump(shared, cfg.prefix), {
        [`${pool}/meta`]: { range: "10.0.0.0/24" },
        [`${pool}/layout`]: 2,
        [`${pool}/entries/5`]: five,
        [`${pool}/entries/6`]: six,
        [`${pool}/order/${"5".padStart(32, "0")}/5`]: five,
        [`${pool}/order/${"6".padStart(32, "0")}/6`]: six,
        [`${pool}/attached/ns%2Fpod/eth0/5`]: five,
        [`${pool}/attached/ns%2Flegacy//6`]: six,
        [`${cfg.prefix}/reservations/10.0.0.5`]: {
          podref: "ns/pod",
          ifname: "eth0",
          containerid: "c-ns/pod",
        },
      });
      // Emptied, a pool keeps its meta and layout keys: it still exists, with its range, indexed;
      // the block its entries were in is marked open.
      for (const [key, a] of (await store.getPool("net-10.0.0.0-24")).allocations)
        assert.deepEqual(await store.commit(change("net-10.0.0.0-24", { remove: [[key, a]] })), { ok: true });
      assert.deepEqual(await dump(shared, cfg.prefix), {
        [`${pool}/blocks/${"0".padStart(32, "0")}`]: "open",
        [`${pool}/layout`]: 2,
        [`${pool}/meta`]: { range: "10.0.0.0/24" },
        [`${cfg.prefix}/reservations/10.0.0.5`]: {
          podref: "ns/pod",
          ifname: "eth0",
          containerid: "c-ns/pod",
        },
      });
      const empty = await store.getPool("net-10.0.0.0-24");
      assert.equal(empty.range, "10.0.0.0/24");
      assert.notEqual(empty.version, undefined);
    });
  });

  it("keeps pools apart whose names extend one another", async () => {
    await withStore(config(shared.endpoints), async (store) => {
      await addOne(store, "a", 1, "ns/a");
      await addOne(store, "a-b", 2, "ns/ab");
      await addOne(store, "a0", 3, "ns/a0");
      assert.deepEqual([...(await store.getPool("a")).allocations.keys()], ["1"]);
      assert.deepEqual([...(await store.getPool("a-b")).allocations.keys()], ["2"]);
      assert.deepEqual(
        (await store.listPools()).map((p) => [p.name, [...p.allocations.keys()]]),
        [
          ["a", ["1"]],
          ["a-b", ["2"]],
          ["a0", ["3"]],
        ],
      );
    });
  });

  it("reads entries in offset order, whatever etcd's key order", async () => {
    await withStore(config(shared.endpoints), async (store) => {
      const create = ["10", "9", "100", "2", "1"].map((k) => [k, alloc(`c${k}`, `ns/${k}`)] as const);
      assert.deepEqual(await store.commit(change("p", { create })), { ok: true });
      assert.deepEqual([...(await store.getPool("p")).allocations.keys()], ["1", "2", "9", "10", "100"]);
    });
  });

  it("refuses entries without their pool's meta key as stored-data trouble", async () => {
    const cfg = config(shared.endpoints);
    await put(shared, `${cfg.prefix}/pools/orphan/entries/1`, '{"id":"c","podref":"ns/a"}');
    await withStore(cfg, async (store) => {
      await assert.rejects(store.getPool("orphan"), (error: unknown) => {
        assert.ok(error instanceof StoredDataError, String(error));
        assert.match(error.message, /pools\/orphan\/.*no meta key/);
        return true;
      });
    });
  });

  it("an uncontended ADD and DEL take two requests each", async () => {
    await withStore(config(shared.endpoints), async (store) => {
      const served = await shared.grpcCalls();
      await addOne(store, "p", 1, "ns/a");
      assert.equal(store.requests, 2, "first ADD: read + txn");
      const after = await shared.grpcCalls();
      // The read is a transaction of three ranges (meta, entries, release records: not the index keys).
      assert.deepEqual(
        [(after["Range"] ?? 0) - (served["Range"] ?? 0), after["Txn"]! - (served["Txn"] ?? 0)],
        [0, 2],
        "etcd's own count",
      );
      await addOne(store, "p", 2, "ns/b");
      assert.equal(store.requests, 4, "second ADD: read + txn");
      await store.getPool("p");
      const held = reservation("10.0.0.2", "ns/b", "eth0", "c-ns/b");
      assert.deepEqual(
        await store.commit(change("p", { remove: [["2", alloc("c-ns/b", "ns/b")]], unreserve: [held] })),
        {
          ok: true,
        },
      );
      assert.equal(store.requests, 6, "DEL: read + txn");
      assert.equal(await store.getReservation("10.0.0.2"), undefined);
      const beforePing = store.requests;
      await store.ping();
      assert.equal(store.requests - beforePing, 1, "ping: one request");
    });
  });

  it("a repeated ADD (same or new container) takes two requests too", async () => {
    await withStore(config(shared.endpoints), async (store) => {
      await addOne(store, "p", 1, "ns/a");
      const before = store.requests;
      // The same container again: the reservation is guessed to hold exactly this owner.
      await store.getPool("p");
      assert.deepEqual(
        await store.commit(change("p", { reserve: [reservation("10.0.0.1", "ns/a", "eth0", "c-ns/a")] })),
        {
          ok: true,
        },
      );
      assert.equal(store.requests - before, 2);
      // A new container of the same pod: the reservation is guessed to hold the entry's old allocation.
      await store.getPool("p");
      const update = { key: "1", from: alloc("c-ns/a", "ns/a"), to: alloc("c-new", "ns/a") };
      const again = reservation("10.0.0.1", "ns/a", "eth0", "c-new");
      assert.deepEqual(await store.commit(change("p", { update: [update], reserve: [again] })), { ok: true });
      assert.equal(store.requests - before, 4);
      assert.deepEqual(await store.getReservation("10.0.0.1"), again);
    });
  });

  it("a guess proved wrong costs one more transaction, decided from what the first one read", async () => {
    await withStore(config(shared.endpoints), async (store) => {
      await addOne(store, "p", 1, "ns/a");
      // Held by the same owner under another container id: taken over at the revision read.
      let before = store.requests;
      const mine = reservation("10.0.0.1", "ns/a", "eth0", "c-2");
      assert.deepEqual(
        await store.commit(change("p", { create: [["9", alloc("c-2", "ns/a")]], reserve: [mine] })),
        {
          ok: true,
        },
      );
      assert.equal(store.requests - before, 2);
      assert.deepEqual(await store.getReservation("10.0.0.1"), mine);
      // Dropped by an owner whose container id differs from the one stored: deleted at the revision read.
      before = store.requests;
      const other = reservation("10.0.0.1", "ns/a", "eth0", "another-container");
      assert.deepEqual(
        await store.commit(change("p", { remove: [["1", alloc("c-ns/a", "ns/a")]], unreserve: [other] })),
        {
          ok: true,
        },
      );
      assert.equal(store.requests - before, 2);
      assert.equal(await store.getReservation("10.0.0.1"), undefined);
    });
  });

  it("matches an entry stored in another encoding by what it means, at its revision", async () => {
    const cfg = config(shared.endpoints);
    await withStore(cfg, async (store) => {
      await addOne(store, "p", 1, "ns/a");
      await put(
        shared,
        `${cfg.prefix}/pools/p/entries/1`,
        '{ "podref": "ns/a", "id": "c-ns/a", "ifname": "eth0" }',
      );
      const before = store.requests;
      assert.deepEqual(await store.commit(change("p", { remove: [["1", alloc("c-ns/a", "ns/a")]] })), {
        ok: true,
      });
      assert.equal(store.requests - before, 2);
      assert.equal((await store.getPool("p")).allocations.size, 0);
    });
  });

  it("a retry after a lost race reads the pool from the failed transaction, not again (a pool of the previous layout)", async () => {
    const cfg = config(shared.endpoints);
    await previousLayout(shared, cfg.prefix, "p", "10.0.0.0/24");
    await withStore(cfg, async (store) => {
      await withStore(cfg, async (rival) => {
        await store.getPool("p");
        await addOne(rival, "p", 1, "ns/rival");
        const before = store.requests;
        const lost = await store.commit(change("p", { create: [["1", alloc("c", "ns/me")]] }));
        assert.deepEqual(lost, { ok: false, conflict: "entry", key: "1" });
        const again = await store.getPool("p");
        assert.equal(store.requests - before, 1, "one txn; the re-read came with it");
        assert.equal(again.version, (await rival.getPool("p")).version);
        assert.equal(again.allocations.get("1")?.podRef, "ns/rival");
        await store.getPool("p");
        assert.equal(store.requests - before, 2, "only once");
      });
    });
  });

  it("a lost race on an indexed pool reads back only the keys the change touches", async () => {
    const cfg = config(shared.endpoints);
    await withStore(cfg, async (store) => {
      await withStore(cfg, async (rival) => {
        await addOne(rival, "p", 2, "ns/other");
        await store.getPool("p");
        await addOne(rival, "p", 1, "ns/rival");
        const before = store.requests;
        const lost = await store.commit(change("p", { create: [["1", alloc("c", "ns/me")]] }));
        assert.deepEqual(lost, { ok: false, conflict: "entry", key: "1" });
        assert.equal(store.requests - before, 1, "one txn");
        // Nothing partial is kept for getPool: it reads the pool again, whole.
        const again = await store.getPool("p");
        assert.equal(store.requests - before, 2);
        assert.deepEqual([...again.allocations.keys()], ["1", "2"]);
      });
    });
  });

  it("concurrent ADDs of different addresses all commit at the first attempt", async () => {
    const cfg = config(shared.endpoints);
    const stores = await Promise.all(
      Array.from({ length: 16 }, () => openEtcdStore(cfg, { timeoutMs: 5_000 })),
    );
    try {
      await addOne(stores[0]!, "p", 100, "ns/first");
      const snapshots = await Promise.all(stores.map((s) => s.getPool("p")));
      assert.ok(snapshots.every((p) => p.allocations.size === 1));
      const results = await Promise.all(
        stores.map((s, i) =>
          s.commit(
            change("p", {
              create: [[String(i + 1), alloc(`c${i}`, `ns/${i}`)]],
              reserve: [reservation(`10.0.0.${i + 1}`, `ns/${i}`, "eth0", `c${i}`)],
            }),
          ),
        ),
      );
      assert.ok(results.every((r) => r.ok));
      assert.deepEqual(
        stores.map((s) => s.requests),
        stores.map((_, i) => (i === 0 ? 4 : 2)),
      );
      assert.equal((await stores[0]!.getPool("p")).allocations.size, 17);
    } finally {
      for (const s of stores) await s.close();
    }
  });

  it("reports unreachable endpoints as StoreUnavailableError within the timeout", async () => {
    const dead = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
    await withStore(
      config(dead),
      async (store) => {
        for (const call of [() => store.ping(), () => store.getPool("p"), () => store.commit(change("p"))]) {
          const started = performance.now();
          await assert.rejects(
            call(),
            rejectsUnavailable(/etcd at http:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+/),
          );
          const elapsed = performance.now() - started;
          assert.ok(elapsed >= 700 && elapsed < 1_500, `gave up after ${elapsed} ms`);
        }
        await assert.rejects(
          store.ping(),
          /gave up after 800 ms; last error: http:\/\/127\.0\.0\.1:\d+: .*(ECONNREFUSED|refused)/i,
        );
      },
      { timeoutMs: 800 },
    );
  });

  it("a member that accepts connections but never answers is left after the attempt timeout", async () => {
    const { createServer } = await import("node:net");
    const sockets: import("node:net").Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      // The silent member first in every order: a working member must still answer in time.
      await withStore(
        config([`http://127.0.0.1:${port}`, shared.endpoint(0)]),
        async (store) => {
          const started = performance.now();
          for (let i = 0; i < 3; i++) await store.ping();
          assert.ok(performance.now() - started < 1_500);
        },
        { timeoutMs: 3_000, attemptTimeoutMs: 300 },
      );
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it("a call whose caller's deadline is nearly spent fails with code 11 at that deadline, not at the store's budget", async () => {
    const { createServer } = await import("node:net");
    const sockets: import("node:net").Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      await withStore(config([`http://127.0.0.1:${port}`]), async (store) => {
        for (const call of [
          (deadline: Deadline) => store.getPool("p", { deadline }),
          (deadline: Deadline) =>
            store.commit(change("p", { create: [["1", alloc("c", "ns/a")]] }), { deadline }),
          (deadline: Deadline) => store.dropReservations([reservation("10.0.0.1", "ns/a")], { deadline }),
        ]) {
          const started = performance.now();
          await assert.rejects(
            call(deadlineIn(300)),
            rejectsUnavailable(/gave up after \d+ ms; last error: no answer within \d+ ms/),
          );
          const took = performance.now() - started;
          assert.ok(
            took >= 250 && took < 1_000,
            `gave up after ${Math.round(took)} ms, at the caller's deadline`,
          );
        }
      });
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it("ignores credentials when the cluster has auth disabled, as etcd's Go client does", async () => {
    await withStore(config(shared.endpoints, { username: "someone", password: "pw" }), async (store) => {
      await addOne(store, "p", 1, "ns/a");
      assert.equal(store.requests, 3, "authenticate (refused as not enabled) + read + txn");
    });
  });

  it("closed stores refuse calls", async () => {
    const store = await openEtcdStore(config(shared.endpoints));
    await store.close();
    await store.close();
    await assert.rejects(store.getPool("p"), rejectsUnavailable(/closed/));
  });
});

describe("etcd store with auth (user + password)", () => {
  let cluster: EtcdCluster;
  const password = "s3cret-pass";
  before(async () => {
    cluster = await EtcdCluster.start({
      rootPassword: "root-pass",
      users: [{ name: "thereabouts", password, prefix: "/tenant-a/" }],
    });
  });
  after(async () => {
    await cluster?.stop();
  });

  it("authenticates once and works inside the user's prefix", async () => {
    const cfg = { endpoints: cluster.endpoints, prefix: "/tenant-a", username: "thereabouts", password };
    await withStore(cfg, async (store) => {
      await addOne(store, "p", 1, "ns/a");
      assert.equal(store.requests, 3, "authenticate + read + txn");
      await store.ping();
      assert.equal((await store.listPools()).length, 1);
    });
  });

  it("wrong credentials fail at once with etcd's reason", async () => {
    const cfg = {
      endpoints: cluster.endpoints,
      prefix: "/tenant-a",
      username: "thereabouts",
      password: "wrong",
    };
    await withStore(cfg, async (store) => {
      const started = performance.now();
      await assert.rejects(
        store.ping(),
        rejectsRefused(/authenticating as "thereabouts": .*authentication failed/),
      );
      assert.ok(performance.now() - started < 1_000);
    });
  });

  it("no credentials, or a prefix outside the user's grant, fail with a hint", async () => {
    await withStore({ endpoints: cluster.endpoints, prefix: "/tenant-a" }, async (store) => {
      await assert.rejects(store.getPool("p"), rejectsRefused(/user name is empty.*set etcd_username/));
    });
    const cfg = { endpoints: cluster.endpoints, prefix: "/tenant-b", username: "thereabouts", password };
    await withStore(cfg, async (store) => {
      await assert.rejects(store.ping(), rejectsRefused(/permission denied.*read-write access/));
    });
  });

  it("authenticates again when the member forgets the token (restart)", async () => {
    const cfg = { endpoints: cluster.endpoints, prefix: "/tenant-a", username: "thereabouts", password };
    await withStore(cfg, async (store) => {
      await store.ping();
      await cluster.killMember(0);
      await cluster.restartMember(0);
      await addOne(store, "after-restart", 1, "ns/a");
    });
  });
});

describe("etcd store over TLS with client certificates", () => {
  let tls: EtcdCluster;
  let tlsAuth: EtcdCluster;
  before(async () => {
    [tls, tlsAuth] = await Promise.all([
      EtcdCluster.start({ tls: true }),
      EtcdCluster.start({ tls: true, rootPassword: "root-pass", users: [{ name: "u", password: "pw" }] }),
    ]);
  });
  after(async () => {
    await Promise.all([tls?.stop(), tlsAuth?.stop()]);
  });

  function tlsConfig(cluster: EtcdCluster, extra: Partial<EtcdSettings> = {}): EtcdSettings {
    const files = cluster.tls!;
    return config(cluster.endpoints, {
      caCertFile: files.caFile,
      certFile: files.certFile,
      keyFile: files.keyFile,
      ...extra,
    });
  }

  it("works with the client certificate", async () => {
    await withStore(tlsConfig(tls), async (store) => {
      await addOne(store, "p", 1, "ns/a");
      assert.equal((await store.getPool("p")).allocations.size, 1);
      assert.equal(store.requests, 3);
    });
  });

  it("is refused without a certificate, with an untrusted one, or over plain http", async () => {
    const files = tls.tls!;
    const cases: [EtcdSettings, (error: unknown) => boolean][] = [
      [
        config(tls.endpoints, { caCertFile: files.caFile }),
        rejectsRefusedOrUnavailable(/TLS|certificate|socket|closed|reset/i),
      ],
      [
        config(tls.endpoints, {
          caCertFile: files.caFile,
          certFile: files.strangerCertFile,
          keyFile: files.strangerKeyFile,
        }),
        rejectsRefusedOrUnavailable(/TLS|certificate|socket|closed|reset/i),
      ],
      [
        config(tls.endpoints, { certFile: files.certFile, keyFile: files.keyFile }),
        rejectsRefused(/TLS|certificate|self.signed/i),
      ],
      [
        config(
          tls.endpoints.map((e) => e.replace("https:", "http:")),
          { caCertFile: files.caFile },
        ),
        rejectsUnavailable(/an endpoint is http:\/\/; write https:\/\//),
      ],
    ];
    for (const [cfg, rejects] of cases) {
      await withStore(cfg, (store) => assert.rejects(store.ping(), rejects), { timeoutMs: 1_500 });
    }
  });

  it("combines a certificate without a Common Name with user + password", async () => {
    await withStore(tlsConfig(tlsAuth, { username: "u", password: "pw" }), async (store) => {
      await addOne(store, "p", 1, "ns/a");
    });
    const files = tlsAuth.tls!;
    const named = tlsConfig(tlsAuth, {
      username: "u",
      password: "pw",
      certFile: files.namedCertFile,
      keyFile: files.namedKeyFile,
    });
    await withStore(named, (store) =>
      assert.rejects(store.ping(), rejectsRefused(/Common Name.*use a certificate without one/)),
    );
  });

  it("works under Bun, the runtime of the shipped binary", { skip: !existsSync(bun) }, async () => {
    for (const [cluster, extra] of [
      [tls, {}],
      [tlsAuth, { username: "u", password: "pw" }],
    ] as const) {
      const cfg = tlsConfig(cluster, extra);
      const output = await new Promise<string>((resolve, reject) =>
        execFile(bun, [probe, JSON.stringify(cfg)], { timeout: 20_000 }, (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
        ),
      );
      assert.deepEqual(JSON.parse(output), {
        runtime: "bun",
        result: { ok: true },
        entries: [["1", { containerId: "c-bun", podRef: "ns/bun", ifName: "eth0" }]],
        reservation: { name: "10.9.0.1", podRef: "ns/bun", ifName: "eth0", containerId: "c-bun" },
      });
    }
  });
});

/** Claims `count` lowest free offsets of pool `pool`, retrying on conflicts and store errors (a client would retry a failed ADD). */
async function claimMany(store: EtcdStore, pool: string, worker: number, count: number): Promise<string[]> {
  const claimed: string[] = [];
  for (let attempts = 0; claimed.length < count; attempts++) {
    if (attempts > count * 200) throw new Error(`worker ${worker}: too many conflicts`);
    try {
      const snapshot = await store.getPool(pool);
      const podRef = `ns/w${worker}-${claimed.length}`;
      // Idempotent like an ADD: an earlier attempt whose reply was lost may have committed.
      const mine = [...snapshot.allocations].find(([, a]) => a.podRef === podRef);
      if (mine !== undefined) {
        claimed.push(mine[0]);
        continue;
      }
      let offset = 1;
      while (snapshot.allocations.has(String(offset))) offset++;
      const key = String(offset);
      const result = await store.commit(
        change(pool, {
          create: [[key, alloc(`c-${podRef}`, podRef)]],
          reserve: [reservation(`r-${key}`, podRef, "eth0", `c-${podRef}`)],
        }),
      );
      if (result.ok) claimed.push(key);
      else assert.deepEqual(result, { ok: false, conflict: "entry", key });
    } catch (error) {
      assert.ok(error instanceof StoreUnavailableError, String(error));
    }
  }
  return claimed;
}

describe("etcd store on three members", () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await EtcdCluster.start({ members: 3 });
  });
  after(async () => {
    await cluster?.stop();
  });

  it("fails over when the leader is killed, and reports a lost quorum in bounded time", async () => {
    const cfg = config(cluster.endpoints);
    const stores = await Promise.all([0, 1, 2, 3].map(() => openEtcdStore(cfg, { timeoutMs: 5_000 })));
    try {
      for (const [i, store] of stores.entries()) await addOne(store, "p", i + 1, `ns/before-${i}`);
      const leader = await cluster.leaderIndex();
      assert.ok(leader >= 0);
      await cluster.killMember(leader);
      // Stores that were talking to the dead member, and new ones, all carry on.
      for (const [i, store] of stores.entries()) await addOne(store, "p", i + 11, `ns/after-${i}`);
      await withStore(cfg, (fresh) => addOne(fresh, "p", 21, "ns/fresh"));
      const pool = await stores[0]!.getPool("p");
      assert.equal(pool.allocations.size, 9);

      // Two of three down: no quorum, so a linearizable read cannot be served.
      const second = (leader + 1) % 3;
      await cluster.killMember(second);
      await withStore(
        cfg,
        async (store) => {
          const started = performance.now();
          await assert.rejects(store.ping(), rejectsUnavailable(/gave up after 1500 ms/));
          assert.ok(performance.now() - started < 2_500);
        },
        { timeoutMs: 1_500, attemptTimeoutMs: 500 },
      );

      await Promise.all([cluster.restartMember(leader), cluster.restartMember(second)]);
      assert.ok((await cluster.leaderIndex()) >= 0);
      await addOne(stores[1]!, "p", 22, "ns/restarted");
      assert.equal((await stores[2]!.getPool("p")).allocations.size, 10);
    } finally {
      for (const store of stores) await store.close();
    }
  });

  it("concurrent writers lose nothing and double-book nothing while the leader is killed", async () => {
    const cfg = config(cluster.endpoints);
    const stores = await Promise.all(
      Array.from({ length: 8 }, () => openEtcdStore(cfg, { timeoutMs: 5_000 })),
    );
    try {
      const work = Promise.all(stores.map((store, w) => claimMany(store, "busy", w, 10)));
      // Kill the leader once a quarter of the entries are in.
      for (;;) {
        if ((await stores[0]!.getPool("busy")).allocations.size >= 20) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const leader = await cluster.leaderIndex();
      await cluster.killMember(leader);
      const claimed = (await work).flat();
      await cluster.restartMember(leader);
      assert.equal(new Set(claimed).size, 80, "an offset was handed out twice");
      const pool = await stores[1]!.getPool("busy");
      assert.equal(pool.allocations.size, 80);
      assert.equal(new Set([...pool.allocations.values()].map((a) => a.podRef)).size, 80);
      const reservations = await stores[2]!.listReservations();
      assert.equal(reservations.length, 80);
      for (const r of reservations) assert.equal(pool.allocations.get(r.name.slice(2))?.podRef, r.podRef);
    } finally {
      for (const store of stores) await store.close();
    }
  });
});
