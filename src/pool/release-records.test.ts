import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { releaseRecords } from "./release-records.ts";

describe("releaseRecords", () => {
  it("records the released keys at the given time and forgets records of keys being created", () => {
    const current = new Map([
      ["1", 100],
      ["2", 200],
    ]);
    assert.deepStrictEqual(releaseRecords(current, ["3", "4"], 500, ["2", "9"]), {
      release: [
        ["3", 500],
        ["4", 500],
      ],
      forget: ["2"],
    });
  });

  it("forgets the oldest records beyond the bound, the kept ones and the new ones counted together", () => {
    const current = new Map([
      ["a", 300],
      ["b", 100],
      ["c", 100],
      ["d", 200],
    ]);
    // 4 kept + 2 new = 6, bound 4: the two oldest go (equal times by key).
    assert.deepStrictEqual(releaseRecords(current, ["e", "f"], 900, [], 4).forget, ["b", "c"]);
    // A key released again replaces its own record rather than adding one.
    assert.deepStrictEqual(releaseRecords(current, ["a"], 900, [], 4), { release: [["a", 900]], forget: [] });
    // A key created is forgotten first, which makes room.
    assert.deepStrictEqual(releaseRecords(current, ["e"], 900, ["d"], 4).forget, ["d"]);
  });

  it("keeps 1,024 records by default", () => {
    const current = new Map(Array.from({ length: 1_024 }, (_, i) => [String(i), i] as const));
    assert.deepStrictEqual(releaseRecords(current, ["x"], 5_000, []).forget, ["0"]);
    assert.deepStrictEqual(releaseRecords(current, ["5"], 5_000, []).forget, []);
  });
});
