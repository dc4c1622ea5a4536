// The check decision on hand-built pools, reservations and pod readings.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Allocation, PoolSnapshot, Reservation } from "../../pool/allocation.ts";
import { NETWORK_STATUS_ANNOTATION, podInfo } from "../pods.ts";
import { type CheckInput, checkStore, type PodReading } from "./check.ts";
import type { Finding } from "./findings.ts";

const a = (podRef: string, ifName = "net1", containerId = `c-${podRef}`): Allocation => ({
  containerId,
  podRef,
  ifName,
});

function pool(name: string, range: string, entries: Record<string, Allocation>): PoolSnapshot {
  return { name, range, allocations: new Map(Object.entries(entries)), released: new Map(), version: "1" };
}

function reservation(
  name: string,
  owner: Allocation,
  claim?: { address: string; networkName: string },
): Reservation {
  return { name, ...owner, ...(claim === undefined ? {} : { claim }) };
}

type State = "Running" | "Failed" | "evicted";

/** A pod as the API serves it, decoded as the tools decode it. */
function found(ref: string, state: State = "Running", annotation?: unknown, uid = `uid-${ref}`): PodReading {
  const [namespace = "", name = ""] = ref.split("/");
  const evicted = { type: "DisruptionTarget", status: "True", reason: "DeletionByTaintManager" };
  return {
    kind: "found",
    pod: podInfo({
      metadata: {
        namespace,
        name,
        uid,
        ...(annotation === undefined
          ? {}
          : {
              annotations: {
                [NETWORK_STATUS_ANNOTATION]:
                  typeof annotation === "string" ? annotation : JSON.stringify(annotation),
              },
            }),
      },
      status: state === "evicted" ? { phase: "Running", conditions: [evicted] } : { phase: state },
    }),
  };
}

/** kind pool address owner, one string per finding (order as checkStore sorts them). */
function summary(findings: readonly Finding[]): string[] {
  return findings.map((f) =>
    `${f.kind} ${f.pool} ${f.address || f.reservation || f.key || ""} ${f.owner?.podRef ?? ""}`.trim(),
  );
}

const check = (input: CheckInput) => checkStore(input);

describe("checkStore: structure", () => {
  it("finds nothing in a consistent store, with or without reservations", () => {
    const pools = [
      pool("10.0.0.0-24", "10.0.0.0/24", { "5": a("ns/p1"), "6": a("ns/p2") }),
      pool("blue-10.0.0.0-24", "10.0.0.0/24", { "5": a("ns/p3") }),
    ];
    const reservations = [
      reservation("10.0.0.5", a("ns/p1")),
      reservation("10.0.0.6", a("ns/p2")),
      reservation("blue-10.0.0.5", a("ns/p3"), { address: "10.0.0.5", networkName: "blue" }),
    ];
    assert.deepEqual(check({ pools, reservations }), []);
    assert.deepEqual(
      check({ pools: [pool("x-10.1.0.0-24", "10.1.0.0/24", { "1": a("ns/q") })], reservations: [] }),
      [],
    );
  });

  it("reports a range that is not a CIDR, keys that are no offset, and entries outside the range", () => {
    const findings = check({
      pools: [
        pool("bad", "10.0.0.0/33", { "1": a("ns/p1") }),
        pool("10.2.0.0-24", "10.2.0.0/24", {
          abc: a("ns/p2"),
          "300": a("ns/p3"),
          "-1": a("ns/p4"),
          "4": a("ns/p5"),
        }),
      ],
      reservations: [],
    });
    assert.deepEqual(summary(findings), [
      "unreadable-range bad",
      // a negative key is Go's two's complement: far beyond any IPv4 address
      "unreadable-key 10.2.0.0-24 -1 ns/p4",
      "unreadable-key 10.2.0.0-24 abc ns/p2",
      "outside-range 10.2.0.0-24 10.2.1.44 ns/p3",
    ]);
    assert.ok(
      findings.every((f) => f.repair === undefined),
      "none of these is repaired",
    );
    assert.match(findings[0]!.detail, /not a CIDR.*1 entries cannot be read/);
  });
});

describe("checkStore: duplicates", () => {
  it("reports one address held by two pods in overlapping pools of one network, never repairs it", () => {
    const pools = [
      pool("net-10.0.0.0-24", "10.0.0.0/24", { "5": a("ns/p1") }),
      pool("net-10.0.0.0-25", "10.0.0.0/25", { "5": a("ns/p2") }),
      // another network may hold the same address
      pool("other-10.0.0.0-24", "10.0.0.0/24", { "5": a("ns/p3") }),
    ];
    const findings = check({ pools, reservations: [reservation("net-10.0.0.5", a("ns/p1"))] });
    assert.deepEqual(summary(findings), [
      "duplicate-address net-10.0.0.0-24 10.0.0.5 ns/p1",
      "duplicate-address net-10.0.0.0-25 10.0.0.5 ns/p2",
    ]);
    assert.match(
      findings[0]!.detail,
      /^network net: also held by ns\/p2 \(net1\) in pool net-10\.0\.0\.0-25 \(key 5\)$/,
    );
    assert.ok(findings.every((f) => f.repair === undefined));
  });

  it("reports two keys of one pool for one address (5 and +5) and one attachment holding two entries", () => {
    const findings = check({
      pools: [
        pool("10.3.0.0-24", "10.3.0.0/24", {
          "5": a("ns/p1"),
          "+5": a("ns/p2"),
          "7": a("ns/p3"),
          "8": a("ns/p3", "net1", "c-other"),
        }),
      ],
      reservations: [],
    });
    assert.deepEqual(summary(findings), [
      "duplicate-address 10.3.0.0-24 10.3.0.5 ns/p2",
      "duplicate-address 10.3.0.0-24 10.3.0.5 ns/p1",
      "duplicate-attachment 10.3.0.0-24 10.3.0.7 ns/p3",
      "duplicate-attachment 10.3.0.0-24 10.3.0.8 ns/p3",
    ]);
  });

  it("says --fix frees the gone holder of a duplicate", () => {
    const findings = check({
      pools: [pool("10.4.0.0-24", "10.4.0.0/24", { "5": a("ns/p1"), "05": a("ns/p2") })],
      reservations: [],
      pods: new Map([
        ["ns/p1", found("ns/p1")],
        ["ns/p2", { kind: "not found" }],
      ]),
    });
    assert.deepEqual(summary(findings), [
      "duplicate-address 10.4.0.0-24 10.4.0.5 ns/p2",
      "duplicate-address 10.4.0.0-24 10.4.0.5 ns/p1",
      "pod-gone 10.4.0.0-24 10.4.0.5 ns/p2",
    ]);
    assert.match(findings[0]!.action, /--fix frees the gone pod's entry/);
    assert.deepEqual(findings[2]!.repair, { kind: "release", podRef: "ns/p2", uid: undefined });
  });
});

describe("checkStore: reservations and entries", () => {
  it("matches reservations by owner, not by name, and reports both sides", () => {
    const pools = [pool("net-10.0.0.0-24", "10.0.0.0/24", { "5": a("ns/p1"), "6": a("ns/p2") })];
    const reservations = [
      reservation("net-10.0.0.5", a("ns/p1")),
      // named after p2's address, but held by another pod: not p2's
      reservation("net-10.0.0.6", a("ns/p9")),
      reservation("net-10.0.0.7", a("ns/p3"), { address: "10.0.0.7", networkName: "net" }),
    ];
    const findings = check({ pools, reservations });
    assert.deepEqual(summary(findings), [
      "orphan-reservation  net-10.0.0.6 ns/p9",
      "orphan-reservation  10.0.0.7 ns/p3",
      "missing-reservation net-10.0.0.0-24 10.0.0.6 ns/p2",
    ]);
    assert.equal(findings[0]!.repair, undefined, "no pods to ask: reported only");
    assert.equal(findings[2]!.repair, undefined, "the name is held by another: not created");
    assert.match(findings[2]!.detail, /held by ns\/p9 \(net1\)/);
  });

  it("creates a missing reservation only where the network uses reservations", () => {
    const pools = [
      pool("net-10.0.0.0-24", "10.0.0.0/24", { "5": a("ns/p1"), "6": a("ns/p2") }),
      pool("plain-10.0.0.0-24", "10.0.0.0/24", { "5": a("ns/p3") }),
    ];
    const findings = check({ pools, reservations: [reservation("net-10.0.0.5", a("ns/p1"))] });
    assert.deepEqual(summary(findings), ["missing-reservation net-10.0.0.0-24 10.0.0.6 ns/p2"]);
    assert.deepEqual(findings[0]!.repair, {
      kind: "reserve",
      pool: "net-10.0.0.0-24",
      range: "10.0.0.0/24",
      key: "6",
      allocation: a("ns/p2"),
      reservation: {
        name: "net-10.0.0.6",
        ...a("ns/p2"),
        claim: { address: "10.0.0.6", networkName: "net" },
      },
    });
    const configured = check({
      pools,
      reservations: [reservation("net-10.0.0.5", a("ns/p1"))],
      overlapping: (n) => (n === "plain" ? true : undefined),
    });
    assert.deepEqual(summary(configured), [
      "missing-reservation net-10.0.0.0-24 10.0.0.6 ns/p2",
      "missing-reservation plain-10.0.0.0-24 10.0.0.5 ns/p3",
    ]);
  });

  it("releases a gone owner's reservation, keeps a live one's", () => {
    const reservations = [reservation("10.0.0.8", a("ns/gone")), reservation("10.0.0.9", a("ns/live"))];
    const findings = check({
      pools: [],
      reservations,
      pods: new Map([
        ["ns/gone", found("ns/gone", "Failed", undefined, "u1")],
        ["ns/live", found("ns/live")],
      ]),
    });
    assert.deepEqual(summary(findings), [
      "orphan-reservation  10.0.0.8 ns/gone",
      "orphan-reservation  10.0.0.9 ns/live",
    ]);
    assert.deepEqual(findings[0]!.repair, { kind: "release", podRef: "ns/gone", uid: "u1" });
    assert.match(findings[0]!.detail, /pod is phase Failed/);
    assert.equal(findings[1]!.repair, undefined);
  });
});

describe("checkStore: pods", () => {
  const pools = [
    pool("10.5.0.0-24", "10.5.0.0/24", {
      "5": a("ns/p1"),
      "6": a("ns/p2"),
      "7": a("ns/p3"),
      "8": a("ns/p4"),
    }),
  ];
  const reservations = ["5", "6", "7", "8"].map((n) => reservation(`10.5.0.${n}`, a(`ns/p${Number(n) - 4}`)));

  it("reports entries of pods not found, terminal or evicted; unreadable pods as such", () => {
    const findings = check({
      pools,
      reservations,
      pods: new Map<string, PodReading>([
        ["ns/p1", { kind: "not found" }],
        ["ns/p2", found("ns/p2", "evicted")],
        ["ns/p3", found("ns/p3")],
        ["ns/p4", { kind: "unreadable", error: "forbidden" }],
      ]),
    });
    assert.deepEqual(summary(findings), [
      "pod-gone 10.5.0.0-24 10.5.0.5 ns/p1",
      "pod-gone 10.5.0.0-24 10.5.0.6 ns/p2",
      "pod-unreadable   ns/p4",
    ]);
    assert.match(findings[1]!.detail, /evicted by the taint manager/);
    assert.deepEqual(findings[1]!.repair, { kind: "release", podRef: "ns/p2", uid: "uid-ns/p2" });
  });

  it("compares a live pod's network-status with the store, both ways, for addresses of its pools", () => {
    const status = (ifName: string, ips: string[], extra = {}) => ({
      name: "ns/net",
      interface: ifName,
      ips,
      ...extra,
    });
    const findings = check({
      pools,
      reservations,
      pods: new Map<string, PodReading>([
        // agrees (plus the default network, whose address no pool covers)
        [
          "ns/p1",
          found("ns/p1", "Running", [
            status("eth0", ["10.244.0.7"], { default: true }),
            status("net1", ["10.5.0.5/24"]),
          ]),
        ],
        // lists another address on net1, which the store gives to nobody
        ["ns/p2", found("ns/p2", "Running", [status("net1", ["10.5.0.66"])])],
        // lists p4's address
        [
          "ns/p3",
          found("ns/p3", "Running", [
            status("net1", ["10.5.0.7"]),
            status("net2", ["10.5.0.8", "192.168.1.1"]),
          ]),
        ],
        ["ns/p4", found("ns/p4", "Running", "not a list")],
        // a pod the store does not know, with an address of a pool
        ["ns/other", found("ns/other", "Running", [status("net1", ["10.5.0.9", "fd00::1"])])],
      ]),
    });
    assert.deepEqual(summary(findings), [
      "status-not-stored 10.5.0.0-24 10.5.0.66 ns/p2",
      "status-not-stored 10.5.0.0-24 10.5.0.8 ns/p3",
      "status-not-stored 10.5.0.0-24 10.5.0.9 ns/other",
      "stored-not-in-status 10.5.0.0-24 10.5.0.6 ns/p2",
    ]);
    assert.match(findings[1]!.detail, /gives to ns\/p4 \(net1\) in pool 10\.5\.0\.0-24/);
    assert.ok(
      findings.every((f) => f.repair === undefined),
      "disagreements are reported only",
    );
  });
});
