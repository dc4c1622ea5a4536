import assert from "node:assert/strict";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { load } from "../config/test-support.ts";
import type { Store } from "../store/store.ts";
import { DEFAULT_IDLE_MS, MAX_HANDLE_AGE_MS, WarmStores } from "./warm-stores.ts";

/** An opener whose stores only record that they were closed. */
function opener() {
  const opened: { closed: boolean; n: number }[] = [];
  let fail = false;
  return {
    opened,
    failNext() {
      fail = true;
    },
    open: async (): Promise<Store> => {
      if (fail) {
        fail = false;
        throw new Error("unreachable");
      }
      const record = { closed: false, n: opened.length };
      opened.push(record);
      return {
        datastore: "kubernetes",
        close: async () => {
          record.closed = true;
        },
      } as unknown as Store;
    },
  };
}

function withKubeconfig(work: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "warm-stores-"));
  const path = join(dir, "kubeconfig");
  writeFileSync(path, "apiVersion: v1\n");
  return work(path).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const config = (kubeconfig: string) =>
  load({ type: "thereabouts", range: "10.0.0.0/24", datastore: "kubernetes", kubernetes: { kubeconfig } });

describe("WarmStores", () => {
  it("keeps one store per datastore identity across calls", async () => {
    await withKubeconfig(async (path) => {
      const o = opener();
      const stores = new WarmStores({ open: o.open });
      for (let i = 0; i < 3; i++) await stores.access(config(path), async () => {});
      assert.equal(o.opened.length, 1);
      await stores.access(config(`${path}-other`), async () => {});
      assert.equal(o.opened.length, 2, "another kubeconfig is another store");
    });
  });

  it("reopens after the kubeconfig changes, closing the old store once its calls are done", async () => {
    await withKubeconfig(async (path) => {
      const o = opener();
      const stores = new WarmStores({ open: o.open });
      let finish: () => void = () => {};
      const running = stores.access(config(path), () => new Promise<void>((r) => (finish = r)));
      await new Promise((r) => setTimeout(r, 5));
      utimesSync(path, new Date(), new Date(Date.now() + 60_000)); // rewritten with a new token
      await stores.access(config(path), async () => {});
      assert.equal(o.opened.length, 2, "the next call opened a store from the new file");
      assert.equal(o.opened[0]!.closed, false, "the old store stays open while a call uses it");
      finish();
      await running;
      await new Promise((r) => setTimeout(r, 5));
      assert.equal(o.opened[0]!.closed, true);
      assert.equal(o.opened[1]!.closed, false);
    });
  });

  it(`reopens a store older than ${MAX_HANDLE_AGE_MS / 60_000} minutes; does not keep one that failed to open`, async () => {
    await withKubeconfig(async (path) => {
      const o = opener();
      let now = 0;
      const stores = new WarmStores({ open: o.open, now: () => now });
      o.failNext();
      await assert.rejects(
        stores.access(config(path), async () => {}),
        /unreachable/,
      );
      await stores.access(config(path), async () => {});
      assert.equal(o.opened.length, 1, "a failed open is retried by the next call");
      now += MAX_HANDLE_AGE_MS;
      await stores.access(config(path), async () => {});
      assert.equal(o.opened.length, 2);
      await new Promise((r) => setTimeout(r, 5));
      assert.equal(o.opened[0]!.closed, true);
      await stores.closeAll();
      assert.equal(o.opened[1]!.closed, true);
    });
  });

  it(`closes a handle no call used for ${DEFAULT_IDLE_MS / 1000} s, never one in use`, async () => {
    await withKubeconfig(async (path) => {
      const o = opener();
      let now = 0;
      const stores = new WarmStores({ open: o.open, now: () => now });
      await stores.access(config(path), async () => {});
      let finish: () => void = () => {};
      const running = stores.access(config(`${path}-busy`), () => new Promise<void>((r) => (finish = r)));
      now += DEFAULT_IDLE_MS - 1;
      assert.equal(stores.closeIdle(), 0, "not idle long enough yet");
      now += 1;
      assert.equal(stores.closeIdle(), 1, "the idle one, not the one in use");
      await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(
        o.opened.map((s) => s.closed),
        [true, false],
      );
      assert.equal(stores.size, 1);
      finish();
      await running;
      now += DEFAULT_IDLE_MS - 1;
      assert.equal(stores.closeIdle(), 0, "idleness counts from the end of the last call");
      now += 1;
      assert.equal(stores.closeIdle(), 1);
      await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(
        o.opened.map((s) => s.closed),
        [true, true],
      );
      assert.equal(stores.size, 0);
      await stores.access(config(path), async () => {});
      assert.equal(o.opened.length, 3, "a closed store is opened again by the next call");
    });
  });

  it("keeps at most maxOpen handles, closing the least recently used idle ones first", async () => {
    await withKubeconfig(async (path) => {
      const o = opener();
      let now = 0;
      const stores = new WarmStores({ open: o.open, now: () => now, maxOpen: 3 });
      const use = async (name: string) => {
        now++;
        await stores.access(config(`${path}-${name}`), async () => {});
      };
      await use("a");
      await use("b");
      await use("c");
      await use("a"); // a is now the most recently used
      let finish: () => void = () => {};
      now++;
      const busy = stores.access(config(`${path}-b`), () => new Promise<void>((r) => (finish = r)));
      await use("d"); // room is made: c (the least recently used idle handle), not a or busy b
      await new Promise((r) => setTimeout(r, 5));
      assert.equal(stores.size, 3);
      assert.deepEqual(
        o.opened.map((s) => s.closed),
        [false, false, true, false],
        "stores a, b, c, d: only c was closed",
      );
      await use("e"); // a is the least recently used idle one now; b is still busy
      await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(
        o.opened.map((s) => s.closed),
        [true, false, true, false, false],
      );
      finish();
      await busy;
      await stores.closeAll();
      assert.ok(o.opened.every((s) => s.closed));
    });
  });

  it("goes over maxOpen only while every handle is in use", async () => {
    await withKubeconfig(async (path) => {
      const o = opener();
      const stores = new WarmStores({ open: o.open, maxOpen: 1 });
      const finishers: (() => void)[] = [];
      const calls = ["x", "y"].map((n) =>
        stores.access(config(`${path}-${n}`), () => new Promise<void>((r) => finishers.push(r))),
      );
      await new Promise((r) => setTimeout(r, 5));
      assert.equal(stores.size, 2, "both in use: neither can be closed");
      for (const f of finishers) f();
      await Promise.all(calls);
      await stores.access(config(`${path}-z`), async () => {});
      await new Promise((r) => setTimeout(r, 5));
      assert.equal(stores.size, 1);
      assert.deepEqual(
        o.opened.map((s) => s.closed),
        [true, true, false],
      );
      await stores.closeAll();
    });
  });
});
