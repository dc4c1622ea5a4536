import assert from "node:assert/strict";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { load } from "../config/test-support.ts";
import type { Store } from "../store/store.ts";
import { MAX_HANDLE_AGE_MS, WarmStores } from "./warm-stores.ts";

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
      const stores = new WarmStores(o.open);
      for (let i = 0; i < 3; i++) await stores.access(config(path), async () => {});
      assert.equal(o.opened.length, 1);
      await stores.access(config(`${path}-other`), async () => {});
      assert.equal(o.opened.length, 2, "another kubeconfig is another store");
    });
  });

  it("reopens after the kubeconfig changes, closing the old store once its calls are done", async () => {
    await withKubeconfig(async (path) => {
      const o = opener();
      const stores = new WarmStores(o.open);
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
      const stores = new WarmStores(o.open, () => now);
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
});
