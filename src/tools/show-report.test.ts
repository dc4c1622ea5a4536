import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "../config/test-support.ts";
import { parseIP } from "../ip/index.ts";
import type { Reservation } from "../pool/allocation.ts";
import { emptyPool } from "../store/store.ts";
import { configuredPools, poolRecord } from "./inventory.ts";
import type { PodInfo } from "./pods.ts";
import {
  entriesTable,
  entryRecord,
  podRecord,
  poolSummary,
  reservationInNetwork,
  reservesAddress,
  shortId,
} from "./show-report.ts";

const owner = { podRef: "default/a", ifName: "net1", containerId: "c" };

describe("show: records", () => {
  it("a reservation is for an address by its recorded claim, else (Go's) by its name", () => {
    const v6 = parseIP("1::5")!;
    // `x-fd00` + 1::5 and `x` + fd00:1::5 share the name x-fd00-1--5: the claim tells them apart.
    const claimed: Reservation = {
      name: "x-fd00-1--5",
      ...owner,
      claim: { address: "fd00:1::5", networkName: "x" },
    };
    assert.equal(reservesAddress(claimed, v6, undefined), false);
    assert.equal(reservesAddress(claimed, parseIP("fd00:1::5")!, undefined), true);
    assert.equal(reservesAddress(claimed, parseIP("fd00:1::5")!, "y"), false);
    const go: Reservation = { name: "x-fd00-1--5", ...owner };
    assert.equal(reservesAddress(go, v6, "x-fd00"), true);
    assert.equal(reservesAddress(go, v6, "x"), false);
    assert.equal(reservesAddress(go, v6, undefined), true, "without a claim or a network, the name's end");
    const v4: Reservation = { name: "blue-10.0.0.5", ...owner };
    assert.equal(reservesAddress(v4, parseIP("10.0.0.5")!, undefined), true);
    assert.equal(reservesAddress(v4, parseIP("0.0.0.5")!, undefined), false);
    assert.equal(reservationInNetwork(v4, "blue"), true);
    assert.equal(reservationInNetwork(v4, "red"), false);
    assert.equal(reservationInNetwork(claimed, "x"), true);
  });

  it("a pod as the cluster says, null where there is no cluster, not found where it has none", () => {
    assert.equal(podRecord(undefined, "default/a"), null);
    assert.deepEqual(podRecord(new Map(), "default/a"), {
      exists: false,
      uid: null,
      node: null,
      phase: null,
      created: null,
      gone: "not found",
    });
    const pod: PodInfo = {
      ref: "default/a",
      namespace: "default",
      name: "a",
      uid: "u",
      resourceVersion: "1",
      gone: "phase Failed",
      node: "",
      phase: "Failed",
      created: "2025-01-01T00:00:00Z",
      networkStatus: "absent",
    };
    assert.deepEqual(podRecord(new Map([["default/a", pod]]), "default/a"), {
      exists: true,
      uid: "u",
      node: null,
      phase: "Failed",
      created: "2025-01-01T00:00:00Z",
      gone: "phase Failed",
    });
  });

  it("a configured pool that does not exist yet shows the configured range; container ids cut to 12", () => {
    const config = load({ range: "192.0.2.0/29", network_name: "green" });
    const [name, ref] = [...configuredPools(config)][0]!;
    assert.deepEqual(poolSummary(poolRecord(emptyPool(name), ref)), {
      name: "green-192.0.2.0-29",
      range: "192.0.2.0/29",
      networkName: "green",
      exists: false,
      size: 6n,
      used: 0,
      free: 6n,
      utilisation: 0,
    });
    assert.equal(shortId("4f1c0a9be2d3a1b2c3d4"), "4f1c0a9be2d3");
  });
});

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
