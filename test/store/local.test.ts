import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { toCniError } from "../../src/cni/skel.ts";
import {
  ConfigError,
  StoredDataError,
  StoreSettingsError,
  StoreUnavailableError,
} from "../../src/errors/errors.ts";
import { SCHEMA_VERSION } from "../../src/store/local/schema.ts";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import type { Store } from "../../src/store/store.ts";
import { alloc, change, reservation, storeConformance } from "./conformance.ts";
import { checkPart, partsConformance } from "./conformance-parts.ts";
import { stickyConformance } from "./conformance-sticky.ts";

const here = dirname(fileURLToPath(import.meta.url));
const worker = join(here, "local-worker.ts");
const bun = join(here, "..", "..", "node_modules", "@oven", "bun-linux-x64", "bin", "bun");

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "thereabouts-store-"));
}

// The contract, then its parts for sticky addresses.
for (const suite of [storeConformance, stickyConformance, partsConformance])
  suite("local", async () => {
    const dir = await tempDir();
    const path = join(dir, "state", "thereabouts.db");
    const store = await openLocalStore(path);
    return {
      store,
      reopen: () => openLocalStore(path),
      cleanup: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  });

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

// Workers still running when a test ends (a failed assertion, a timeout) are killed, so a broken
// store fails the run instead of leaving it waiting for children that loop forever.
const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) child.kill("SIGKILL");
});

function startWorker(
  args: readonly string[],
  runtime = process.execPath,
): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(runtime, [worker, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const exit = new Promise<Exit>((resolve) => {
    child.on("close", (code, signal) => {
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, exit };
}

function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout?.on("data", (chunk) => {
      seen += chunk;
      if (seen.includes(`${line}\n`)) resolve();
    });
    child.on("close", (code) => reject(new Error(`worker exited (${code}) before printing ${line}`)));
  });
}

function schemaOf(path: string): { version: unknown; tables: unknown[] } {
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    const version = db.prepare("PRAGMA user_version").get()?.["user_version"];
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((row) => row["name"]);
    return { version, tables };
  } finally {
    db.close();
  }
}

/** Every pool entry has its reservation and vice versa, with the same owner. */
async function assertWholeChanges(store: Store, expectedEntries?: number): Promise<number> {
  const pool = await store.getPool("shared");
  const reservations = await store.listReservations();
  assert.equal(reservations.length, pool.allocations.size, "entries and reservations differ");
  for (const held of reservations) {
    const entry = pool.allocations.get(held.name.replace(/^r-/, ""));
    assert.deepEqual(entry, alloc(held.containerId, held.podRef, held.ifName), `entry of ${held.name}`);
  }
  const keys = [...pool.allocations.keys()].map(Number).sort((a, b) => a - b);
  assert.deepEqual(
    keys,
    keys.map((_, i) => i + 1),
    "offsets are not the lowest ones",
  );
  const podRefs = new Set([...pool.allocations.values()].map((a) => a.podRef));
  assert.equal(podRefs.size, pool.allocations.size, "a pod got two entries");
  if (expectedEntries !== undefined) assert.equal(pool.allocations.size, expectedEntries);
  // The local store counts commits: one create plus one per further entry.
  if (pool.version !== undefined) assert.equal(pool.version, String(pool.allocations.size));
  return pool.allocations.size;
}

describe("openLocalStore()", () => {
  let dir: string;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("creates the directory with mode 0700 and the files with mode 0600", async () => {
    const path = join(dir, "modes", "nested", "store.db");
    const store = await openLocalStore(path);
    try {
      assert.deepEqual(await store.commit(change("p", { create: [["1", alloc("c", "ns/a")]] })), {
        ok: true,
      });
      assert.equal(statSync(join(dir, "modes")).mode & 0o777, 0o700);
      assert.equal(statSync(dirname(path)).mode & 0o777, 0o700);
      for (const file of [path, `${path}-wal`, `${path}-shm`])
        assert.equal(statSync(file).mode & 0o777, 0o600, file);
      assert.equal(store.datastore, "local");
    } finally {
      await store.close();
    }
    assert.deepEqual(schemaOf(path), {
      version: SCHEMA_VERSION,
      tables: ["allocations", "blocks", "pools", "released", "reservations"],
    });
  });

  it("refuses a file with a newer schema version and leaves it alone", async () => {
    const path = join(dir, "newer.db");
    await (await openLocalStore(path)).close();
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await assert.rejects(openLocalStore(path), (error: unknown) => {
      assert.ok(error instanceof StoredDataError);
      assert.ok(
        error.message.includes(
          `schema version ${SCHEMA_VERSION + 1} is newer than supported version ${SCHEMA_VERSION}`,
        ),
        error.message,
      );
      assert.ok(error.message.includes(path));
      return true;
    });
    assert.equal(schemaOf(path).version, SCHEMA_VERSION + 1);
  });

  it("upgrades a file at schema version 2 in place: its rows read as before, sticky fields and release records can be written", async () => {
    const path = join(dir, "v2.db");
    const db = new DatabaseSync(path);
    db.exec(
      `CREATE TABLE pools (name TEXT NOT NULL PRIMARY KEY, "range" TEXT NOT NULL, version INTEGER NOT NULL) STRICT, WITHOUT ROWID;
       CREATE TABLE allocations (pool TEXT NOT NULL, key TEXT NOT NULL, container_id TEXT NOT NULL, podref TEXT NOT NULL, ifname TEXT NOT NULL, PRIMARY KEY (pool, key)) STRICT, WITHOUT ROWID;
       CREATE TABLE reservations (name TEXT NOT NULL PRIMARY KEY, podref TEXT NOT NULL, ifname TEXT NOT NULL, container_id TEXT NOT NULL, address TEXT, network_name TEXT) STRICT, WITHOUT ROWID;
       INSERT INTO pools VALUES ('p', '10.0.0.0/24', 4);
       INSERT INTO allocations VALUES ('p', '1', 'c-old', 'ns/old', 'eth0');
       INSERT INTO allocations VALUES ('p', '+2', 'c-legacy', 'ns/legacy', '');
       INSERT INTO reservations VALUES ('10.0.0.1', 'ns/old', 'eth0', 'c-old', '10.0.0.1', '');
       PRAGMA user_version = 2;`,
    );
    db.close();
    const store = await openLocalStore(path);
    try {
      const before = await store.getPool("p");
      assert.deepStrictEqual(before, {
        name: "p",
        range: "10.0.0.0/24",
        allocations: new Map([
          ["1", alloc("c-old", "ns/old")],
          ["+2", alloc("c-legacy", "ns/legacy", "")],
        ]),
        released: new Map(),
        version: "4",
      });
      const parked = {
        ...alloc("c-old", "ns/old"),
        owner: "statefulset/ns/web/0",
        parkedAt: 1_767_225_600_000,
      };
      const result = await store.commit(
        change("p", {
          update: [{ key: "1", from: alloc("c-old", "ns/old"), to: parked }],
          remove: [["+2", alloc("c-legacy", "ns/legacy", "")]],
          release: [["+2", 1_767_225_600_001]],
        }),
      );
      assert.deepEqual(result, { ok: true });
      const after = await store.getPool("p");
      assert.deepStrictEqual(after.allocations, new Map([["1", parked]]));
      assert.deepStrictEqual(after.released, new Map([["+2", 1_767_225_600_001]]));
    } finally {
      await store.close();
    }
    assert.deepEqual(schemaOf(path), {
      version: SCHEMA_VERSION,
      tables: ["allocations", "blocks", "pools", "released", "reservations"],
    });
  });

  it("upgrades a file at schema version 3 in place: entries get their sortable offsets and blocks their counts, legacy keys counted once", async () => {
    const path = join(dir, "v3.db");
    const db = new DatabaseSync(path);
    const rows = [
      ...Array.from({ length: 256 }, (_, o) => `('p', '${o}', 'c${o}', 'ns/p${o}', 'eth0', NULL, NULL)`),
      ...Array.from(
        { length: 255 },
        (_, i) => `('p', '${256 + i}', 'c${256 + i}', 'ns/p${256 + i}', 'eth0', NULL, NULL)`,
      ),
      "('p', '0005', 'c-l', 'ns/legacy', '', NULL, NULL)",
      "('p', '0600', 'c-l6', 'ns/legacy6', '', NULL, NULL)",
      "('p', 'junk', 'c-j', 'ns/junk', 'eth0', NULL, NULL)",
    ];
    db.exec(
      `CREATE TABLE pools (name TEXT NOT NULL PRIMARY KEY, "range" TEXT NOT NULL, version INTEGER NOT NULL) STRICT, WITHOUT ROWID;
       CREATE TABLE allocations (pool TEXT NOT NULL, key TEXT NOT NULL, container_id TEXT NOT NULL, podref TEXT NOT NULL, ifname TEXT NOT NULL, owner TEXT, parked_at INTEGER, PRIMARY KEY (pool, key)) STRICT, WITHOUT ROWID;
       CREATE TABLE reservations (name TEXT NOT NULL PRIMARY KEY, podref TEXT NOT NULL, ifname TEXT NOT NULL, container_id TEXT NOT NULL, address TEXT, network_name TEXT) STRICT, WITHOUT ROWID;
       CREATE TABLE released (pool TEXT NOT NULL, key TEXT NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY (pool, key)) STRICT, WITHOUT ROWID;
       INSERT INTO pools VALUES ('p', '10.0.0.0/16', 9);
       INSERT INTO allocations VALUES ${rows.join(", ")};
       INSERT INTO released VALUES ('p', '511', 1000);
       PRAGMA user_version = 3;`,
    );
    db.close();
    const store = await openLocalStore(path);
    try {
      const counts = () => {
        const file = new DatabaseSync(path);
        try {
          return file
            .prepare("SELECT block, used FROM blocks ORDER BY block")
            .all()
            .map((r) => [r["block"], r["used"]]);
        } finally {
          file.close();
        }
      };
      const block = (n: number) => n.toString(16).padStart(30, "0");
      // Block 0: 256 offsets ("5" and "0005" are one); block 1: 255 (511 free); block 2: 600.
      assert.deepEqual(counts(), [
        [block(0), 256],
        [block(1), 255],
        [block(2), 1],
      ]);
      const query = { podRef: "ns/me", ifName: "eth0", scan: { from: 1n, to: 65_534n, free: 1 } };
      const part = await store.parts!.getPoolPart("p", query);
      checkPart(await store.getPool("p"), query, part);
      assert.deepEqual(part.full.intervals, [{ lo: 1n, hi: 255n }]);
      assert.deepEqual(part.scanned, { from: 1n, through: 511n });
      // The counts follow later writes too: 511 taken fills block 1; "0005" going keeps block 0 full.
      assert.deepEqual(await store.commit(change("p", { create: [["511", alloc("c511", "ns/p511")]] })), {
        ok: true,
      });
      assert.deepEqual(
        await store.commit(change("p", { remove: [["0005", alloc("c-l", "ns/legacy", "")]] })),
        { ok: true },
      );
      assert.deepEqual(counts(), [
        [block(0), 256],
        [block(1), 256],
        [block(2), 1],
      ]);
      assert.deepEqual(
        await store.commit(change("p", { remove: [["0600", alloc("c-l6", "ns/legacy6", "")]] })),
        { ok: true },
      );
      assert.deepEqual(await store.commit(change("p", { remove: [["5", alloc("c5", "ns/p5")]] })), {
        ok: true,
      });
      assert.deepEqual(counts(), [
        [block(0), 255],
        [block(1), 256],
      ]);
    } finally {
      await store.close();
    }
  });

  it("refuses a file that is not a SQLite database", async () => {
    const path = join(dir, "garbage.db");
    writeFileSync(path, "not a database ".repeat(64));
    await assert.rejects(openLocalStore(path), StoredDataError);
  });

  it("reports a path that names no store file as a config error, one that cannot be opened as StoreUnavailableError", async () => {
    const isDirectory = join(dir, "is-a-directory.db");
    mkdirSync(isDirectory);
    await assert.rejects(openLocalStore(isDirectory), (error: unknown) => {
      assert.ok(error instanceof StoreSettingsError, `${isDirectory}: ${error}`);
      const reported = toCniError(error);
      assert.ok(reported instanceof ConfigError, String(reported));
      assert.equal(reported.code, 7);
      assert.equal(
        reported.message,
        `local.path ${isDirectory} is a directory: name the store's database file`,
      );
      return true;
    });
    const file = join(dir, "plain-file");
    writeFileSync(file, "");
    for (const path of [join(file, "store.db"), join(file, "sub", "store.db")]) {
      await assert.rejects(openLocalStore(path), (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError, `${path}: ${error}`);
        assert.equal(toCniError(error).code, 11);
        assert.ok(error.message.includes(path), error.message);
        return true;
      });
    }
  });

  it("rejects a negative busy timeout", async () => {
    await assert.rejects(openLocalStore(join(dir, "x.db"), { busyTimeoutMs: -1 }), RangeError);
  });
});

describe("local store", () => {
  let dir: string;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("close() is idempotent and later calls fail with StoreUnavailableError", async () => {
    const store = await openLocalStore(join(dir, "closed.db"));
    await store.close();
    await store.close();
    await assert.rejects(store.getPool("p"), StoreUnavailableError);
    await assert.rejects(store.commit(change("p")), StoreUnavailableError);
    await assert.rejects(store.ping(), /is closed/);
  });

  it("commit() gives up on a held write lock after the busy timeout, keeps reads working and leaves no transaction open", async () => {
    const path = join(dir, "busy.db");
    const store = await openLocalStore(path, { busyTimeoutMs: 100 });
    assert.deepEqual(await store.commit(change("p", { create: [["1", alloc("c1", "ns/a")]] })), {
      ok: true,
    });
    const holder = new DatabaseSync(path);
    holder.exec("BEGIN IMMEDIATE");
    try {
      const started = performance.now();
      await assert.rejects(
        store.commit(change("p", { remove: [["1", alloc("c1", "ns/a")]] })),
        (error: unknown) => {
          assert.ok(error instanceof StoreUnavailableError);
          assert.ok(error.message.includes(path), error.message);
          assert.match(error.message, /database is locked/);
          return true;
        },
      );
      assert.ok(performance.now() - started >= 90, "gave up before the busy timeout");
      assert.equal(
        (await store.getPool("p")).allocations.size,
        1,
        "WAL readers are not blocked by the writer",
      );
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
    assert.deepEqual(await store.commit(change("p", { remove: [["1", alloc("c1", "ns/a")]] })), { ok: true });
    await store.close();
  });

  it("waits for another connection's write lock on a timer: the process keeps running meanwhile", async () => {
    const path = join(dir, "timer-wait.db");
    const store = await openLocalStore(path, { busyTimeoutMs: 3_000 });
    assert.deepEqual(await store.commit(change("p", { create: [["1", alloc("c1", "ns/a")]] })), { ok: true });
    const holder = new DatabaseSync(path);
    holder.exec("BEGIN IMMEDIATE");
    // The holder lets go from a timer of this very process: a wait that blocked the thread (SQLite's
    // busy handler) would keep that timer from running until the wait gave up.
    const started = performance.now();
    const released = new Promise<number>((resolve) =>
      setTimeout(() => {
        holder.exec("ROLLBACK");
        holder.close();
        resolve(performance.now() - started);
      }, 300),
    );
    try {
      assert.deepEqual(await store.commit(change("p", { create: [["2", alloc("c2", "ns/b")]] })), {
        ok: true,
      });
      const releasedAfter = await released;
      assert.ok(releasedAfter < 1_000, `the timer ran on time (${Math.round(releasedAfter)} ms)`);
      assert.ok(performance.now() - started >= releasedAfter, "committed only after the release");
      assert.equal((await store.getPool("p")).allocations.size, 2);
    } finally {
      await released;
      await store.close();
    }
  });

  it("a writer killed while holding the write lock leaves the store usable and nothing half-applied", {
    timeout: 30_000,
  }, async () => {
    const path = join(dir, "killed-holder.db");
    const store = await openLocalStore(path, { busyTimeoutMs: 2000 });
    const held = reservation("r-1", "ns/a", "eth0", "c1");
    await store.commit(change("shared", { create: [["1", alloc("c1", "ns/a")]], reserve: [held] }));
    const before = await store.getPool("shared");

    const { child, exit } = startWorker(["hold", path]);
    await waitForLine(child, "holding");
    child.kill("SIGKILL");
    assert.equal((await exit).signal, "SIGKILL");

    const reopened = await openLocalStore(path);
    for (const s of [store, reopened]) {
      const pool = await s.getPool("shared");
      assert.deepEqual([...pool.allocations], [...before.allocations]);
      assert.equal(pool.version, before.version);
      assert.deepEqual(await s.listReservations(), [held]);
    }
    const next = change("shared", { create: [["2", alloc("c2", "ns/b")]] });
    assert.deepEqual(await reopened.commit(next), { ok: true });
    assert.equal((await store.getPool("shared")).allocations.size, 2);
    await reopened.close();
    await store.close();
  });

  it("writers SIGKILLed mid-commit leave only whole changes", { timeout: 60_000 }, async () => {
    const path = join(dir, "churn.db");
    let total = 0;
    for (let round = 0; round < 3; round++) {
      const workers = [0, 1, 2, 3].map((w) => startWorker(["churn", path, `${round}.${w}`]));
      try {
        await Promise.all(workers.map(({ child }) => waitForLine(child, "started")));
        await Promise.all(
          workers.map(async ({ child, exit }) => {
            await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200));
            child.kill("SIGKILL");
            const result = await exit;
            assert.equal(result.signal, "SIGKILL", result.stderr);
          }),
        );
      } finally {
        for (const { child } of workers) child.kill("SIGKILL");
      }
      const store = await openLocalStore(path);
      const entries = await assertWholeChanges(store);
      assert.ok(entries > total, `round ${round} committed nothing`);
      total = entries;
      await store.close();
    }
  });

  it("openLocalStore() waits for another process's lock on the file, up to the busy timeout", {
    timeout: 30_000,
  }, async () => {
    const path = join(dir, "locked-at-open.db");
    const { child, exit } = startWorker(["lock", path, "400"]);
    await waitForLine(child, "locked");
    await assert.rejects(openLocalStore(path, { busyTimeoutMs: 50 }), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError, String(error));
      assert.match(error.message, /locked/);
      return true;
    });
    const started = performance.now();
    const store = await openLocalStore(path);
    assert.ok(performance.now() - started > 100, "opened while the lock was held");
    assert.deepEqual(await store.commit(change("p", { create: [["1", alloc("c1", "ns/a")]] })), { ok: true });
    await store.close();
    assert.equal((await exit).code, 0);
    assert.deepEqual(schemaOf(path), {
      version: SCHEMA_VERSION,
      tables: ["allocations", "blocks", "other_app", "pools", "released", "reservations"],
    });
  });

  it("concurrent first opens by several processes create the schema once without errors", {
    timeout: 60_000,
  }, async () => {
    const path = join(dir, "first-open", "store.db");
    const exits = await Promise.all(Array.from({ length: 12 }, () => startWorker(["init", path]).exit));
    for (const result of exits)
      assert.deepEqual([result.code, result.stdout, result.stderr], [0, "done\n", ""]);
    assert.deepEqual(schemaOf(path), {
      version: SCHEMA_VERSION,
      tables: ["allocations", "blocks", "pools", "released", "reservations"],
    });
  });

  it("32 concurrent processes (Node and Bun) allocate distinct lowest offsets", {
    timeout: 120_000,
  }, async () => {
    const path = join(dir, "many", "store.db");
    const processes = 32;
    const each = 5;
    const runtimes = existsSync(bun) ? [process.execPath, bun] : [process.execPath];
    const exits = await Promise.all(
      Array.from(
        { length: processes },
        (_, w) =>
          startWorker(["allocate", path, String(w), String(each)], runtimes[w % runtimes.length]).exit,
      ),
    );
    for (const result of exits) assert.deepEqual([result.code, result.stderr], [0, ""]);
    const store = await openLocalStore(path);
    await assertWholeChanges(store, processes * each);
    await store.close();
  });
});
