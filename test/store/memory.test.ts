// The in-memory store (src/store/memory) runs the Store conformance suite beside the real
// backends: the unit tests that script races and outages on it test the code above the stores
// against the same rules the backends keep.
import { MemoryData } from "../../src/store/memory/memory-data.ts";
import { MemoryStore } from "../../src/store/memory/memory-store.ts";
import { storeConformance } from "./conformance.ts";
import { partsConformance } from "./conformance-parts.ts";
import { stickyConformance } from "./conformance-sticky.ts";

// The contract, then its parts for sticky addresses.
for (const suite of [storeConformance, stickyConformance, partsConformance])
  suite("memory", async () => {
    const data = new MemoryData();
    const store = new MemoryStore(data, { parts: true });
    return {
      store,
      reopen: async () => new MemoryStore(data, { parts: true }),
      cleanup: () => store.close(),
    };
  });
