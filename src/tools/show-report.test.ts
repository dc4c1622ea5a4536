import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseIP } from "../ip/index.ts";
import { entriesTable, entryRecord } from "./show-report.ts";

const look = { width: 120, colour: false };
const entry = (key: string, allocation: Parameters<typeof entryRecord>[1]["allocation"]) => ({
  key,
  address: parseIP(`10.0.0.${key}`)!,
  allocation,
});

describe("show pool entries", () => {
  const now = Date.UTC(2026, 0, 1, 1, 0, 0);
  const plain = entryRecord(
    "p",
    entry("1", { containerId: "c1", podRef: "ns/a", ifName: "eth0" }),
    undefined,
  );
  const parked = entryRecord(
    "p",
    entry("2", {
      containerId: "c2",
      podRef: "ns/web-0",
      ifName: "eth0",
      owner: "statefulset/ns/web/0",
      parkedAt: now - 5 * 60_000,
    }),
    undefined,
  );

  it("records a sticky entry's owner and parking time, and nothing more for other entries", () => {
    assert.deepStrictEqual(Object.keys(plain), [
      "pool",
      "address",
      "key",
      "podRef",
      "containerId",
      "ifName",
      "pod",
    ]);
    assert.equal(parked.owner, "statefulset/ns/web/0");
    assert.equal(parked.parkedAt, "2026-01-01T00:55:00.000Z");
  });

  it("adds OWNER and PARKED columns only when some entry is sticky", () => {
    assert.doesNotMatch(entriesTable([plain], look, now), /OWNER/);
    const lines = entriesTable([plain, parked], look, now).split("\n");
    assert.match(lines[0]!, /AGE +OWNER +PARKED$/);
    assert.match(lines[1]!, /^10\.0\.0\.1 .* - +-$/);
    assert.match(lines[2]!, /^10\.0\.0\.2 .* statefulset\/ns\/web\/0 +5m$/);
  });
});
