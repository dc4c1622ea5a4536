// Test support: a local (sqlite) store in a temporary directory, removed afterwards.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "../store.ts";
import { openLocalStore } from "./sqlite-store.ts";

export async function withTempLocalStore(work: (store: Store) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "thereabouts-local-store-"));
  const store = await openLocalStore(join(dir, "store.db"));
  try {
    await work(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
