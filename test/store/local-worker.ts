// A plugin-like child process for the local store's multi-process tests (run by local.test.ts
// under Node or Bun; does nothing without arguments, so a test runner may load it harmlessly).
//   init <path>                     open the store, ping, close
//   allocate <path> <worker> <n>    claim n lowest free offsets of pool "shared", retrying conflicts
//   churn <path> <worker>           claim offsets in a loop until killed
//   hold <path>                     write half a change under the write lock, then wait to be killed
//   lock <path> <ms>                hold an exclusive lock on a new file (rollback journal) for ms
//   hold-write <path> <ms>          hold a store's write lock (BEGIN IMMEDIATE) for ms, then roll back
import { DatabaseSync } from "node:sqlite";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import { poolChange, type Store } from "../../src/store/store.ts";

async function claim(store: Store, worker: string, serial: number): Promise<boolean> {
  const pool = await store.getPool("shared");
  let offset = 1;
  while (pool.allocations.has(String(offset))) offset++;
  const key = String(offset);
  const podRef = `ns/w${worker}-${serial}`;
  const containerId = `c-${worker}-${serial}`;
  const result = await store.commit(
    poolChange("shared", "10.1.0.0/16", {
      create: [[key, { containerId, podRef, ifName: "eth0" }]],
      reserve: [{ name: `r-${key}`, podRef, ifName: "eth0", containerId }],
    }),
  );
  // Losing the race for a key is expected; a reservation conflict would mean a lost entry.
  if (!result.ok && result.conflict !== "entry")
    throw new Error(`unexpected conflict ${JSON.stringify(result)}`);
  return result.ok;
}

async function main(argv: readonly string[]): Promise<void> {
  const [mode, path, worker = "0", count = "0"] = argv;
  if (mode === undefined || path === undefined) return;
  if (mode === "hold") {
    const db = new DatabaseSync(path);
    db.exec("BEGIN IMMEDIATE");
    db.prepare(
      "INSERT OR REPLACE INTO allocations (pool, key, container_id, podref, ifname) VALUES ('shared', '999', 'c-half', 'ns/half', 'eth0')",
    ).run();
    db.prepare(
      "INSERT OR REPLACE INTO reservations (name, podref, ifname, container_id) VALUES ('r-999', 'ns/half', 'eth0', 'c-half')",
    ).run();
    db.prepare("UPDATE pools SET version = version + 1 WHERE name = 'shared'").run();
    process.stdout.write("holding\n");
    setInterval(() => {}, 1000);
    return;
  }
  if (mode === "hold-write") {
    const db = new DatabaseSync(path);
    db.exec("BEGIN IMMEDIATE");
    process.stdout.write("locked\n");
    await new Promise((resolve) => setTimeout(resolve, Number(worker)));
    db.exec("ROLLBACK");
    db.close();
    process.stdout.write("released\n");
    return;
  }
  if (mode === "lock") {
    const db = new DatabaseSync(path);
    db.exec("BEGIN EXCLUSIVE");
    db.exec("CREATE TABLE other_app (x TEXT)");
    process.stdout.write("locked\n");
    await new Promise((resolve) => setTimeout(resolve, Number(worker)));
    db.exec("COMMIT");
    db.close();
    return;
  }
  const store = await openLocalStore(path);
  try {
    if (mode === "init") await store.ping();
    else if (mode === "allocate") {
      for (let serial = 0; serial < Number(count); ) if (await claim(store, worker, serial)) serial++;
    } else if (mode === "churn") {
      process.stdout.write("started\n");
      for (let serial = 0; ; ) {
        if (await claim(store, worker, serial)) serial++;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } else throw new Error(`unknown mode ${mode}`);
  } finally {
    await store.close();
  }
  process.stdout.write("done\n");
}

await main(process.argv.slice(2));
