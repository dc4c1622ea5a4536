import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applied, emptyPool, poolChange } from "./store.ts";

describe("applied", () => {
  it("applies release records after forgetting, change by change, and keeps the entries' sticky fields", () => {
    const parked = {
      containerId: "c1",
      podRef: "ns/web-0",
      ifName: "eth0",
      owner: "statefulset/ns/web/0",
      parkedAt: 5,
    };
    const start = { ...emptyPool("p"), released: new Map([["3", 1]]) };
    const after = applied(start, [
      poolChange("p", "10.0.0.0/24", { create: [["4", parked]], forget: ["3"], release: [["7", 2]] }),
      poolChange("p", "10.0.0.0/24", { release: [["7", 9]] }),
    ]);
    assert.deepStrictEqual(after.released, new Map([["7", 9]]));
    assert.deepStrictEqual(after.allocations.get("4"), parked);
    // The snapshot it started from is not changed.
    assert.deepStrictEqual(start.released, new Map([["3", 1]]));
  });
});
