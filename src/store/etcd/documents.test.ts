import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StoredDataError } from "../../errors/errors.ts";
import { decodePool, decodeReservation, EtcdKeys, encodePool, encodeReservation } from "./documents.ts";
import { decode, prefixEnd } from "./etcd-api.ts";

describe("EtcdKeys", () => {
  it("puts pools and reservations under the prefix, ignoring trailing slashes", () => {
    for (const prefix of ["/thereabouts", "/thereabouts/", "/thereabouts//"]) {
      const keys = new EtcdKeys(prefix);
      assert.equal(keys.pool("net-10.0.0.0-24"), "/thereabouts/pools/net-10.0.0.0-24");
      assert.equal(keys.reservation("10.0.0.1"), "/thereabouts/reservations/10.0.0.1");
    }
  });
});

describe("prefixEnd()", () => {
  it("is the prefix with its last byte incremented", () => {
    assert.equal(decode(prefixEnd("/a/pools/")), "/a/pools0");
    assert.deepEqual(Buffer.from(prefixEnd("a\xff"), "base64"), Buffer.from([0x61, 0xc3, 0xc0]));
  });
});

describe("pool documents", () => {
  it("encodePool() writes CRD-shaped entries and omits an empty ifname", () => {
    const text = encodePool(
      "10.0.0.0/24",
      new Map([
        ["1", { containerId: "c1", podRef: "ns/a", ifName: "eth0" }],
        ["+5", { containerId: "c5", podRef: "ns/b", ifName: "" }],
      ]),
    );
    assert.deepEqual(JSON.parse(text), {
      range: "10.0.0.0/24",
      allocations: { "1": { id: "c1", podref: "ns/a", ifname: "eth0" }, "+5": { id: "c5", podref: "ns/b" } },
    });
  });

  it("decodePool() round-trips, keeping keys verbatim", () => {
    const allocations = new Map([
      ["007", { containerId: "c7", podRef: "ns/a", ifName: "" }],
      ["__proto__", { containerId: "cp", podRef: "ns/p", ifName: "net1" }],
    ]);
    const pool = decodePool("p", "/t/pools/p", encodePool("10.0.0.0/24", allocations), "12");
    assert.deepEqual(pool, { name: "p", range: "10.0.0.0/24", allocations, version: "12" });
  });

  it("decodePool() refuses what is not a pool, naming the key", () => {
    for (const text of [
      "not json",
      "[]",
      '{"allocations": {}}',
      '{"range": "r", "allocations": {"1": {"podref": "x"}}}',
    ]) {
      assert.throws(
        () => decodePool("p", "/t/pools/p", text, "1"),
        (error: unknown) => error instanceof StoredDataError && error.message.includes("/t/pools/p"),
      );
    }
  });
});

describe("reservation documents", () => {
  it("round-trip with every field", () => {
    const r = { name: "10.0.0.1", podRef: "ns/a", ifName: "", containerId: "c1" };
    assert.equal(encodeReservation(r), '{"podref":"ns/a","ifname":"","containerid":"c1"}');
    assert.deepEqual(decodeReservation("10.0.0.1", "k", encodeReservation(r)), r);
    assert.deepEqual(decodeReservation("x", "k", '{"podref":"ns/a"}'), {
      name: "x",
      podRef: "ns/a",
      ifName: "",
      containerId: "",
    });
    assert.throws(() => decodeReservation("x", "k", '{"ifname":"eth0"}'), StoredDataError);
  });
});
