import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StoredDataError } from "../../errors/errors.ts";
import {
  decodeEntry,
  decodeMeta,
  decodePools,
  decodeReleased,
  decodeReservation,
  EtcdKeys,
  encodeEntry,
  encodeMeta,
  encodeReleased,
  encodeReservation,
} from "./documents.ts";
import { decode, encode, type KeyValue, prefixEnd } from "./etcd-api.ts";

const keys = new EtcdKeys("/t");

function kv(key: string, value: string): KeyValue {
  return { key: encode(key), value: encode(value), mod_revision: "3" };
}

describe("EtcdKeys", () => {
  it("puts pools, their entries and reservations under the prefix, ignoring trailing slashes", () => {
    for (const prefix of ["/thereabouts", "/thereabouts/", "/thereabouts//"]) {
      const k = new EtcdKeys(prefix);
      assert.equal(k.pool("net-10.0.0.0-24"), "/thereabouts/pools/net-10.0.0.0-24/");
      assert.equal(k.meta("net-10.0.0.0-24"), "/thereabouts/pools/net-10.0.0.0-24/meta");
      assert.equal(k.entry("net-10.0.0.0-24", "5"), "/thereabouts/pools/net-10.0.0.0-24/entries/5");
      assert.equal(k.reservation("10.0.0.1"), "/thereabouts/reservations/10.0.0.1");
    }
  });

  it("gives no pool's directory as a prefix of another pool's keys", () => {
    for (const other of [keys.meta("a-b"), keys.entry("a-b", "1"), keys.meta("ab"), keys.entry("a0", "1")])
      assert.equal(other.startsWith(keys.pool("a")), false, other);
  });

  it("refuses pool names that would break the layout", () => {
    assert.throws(() => keys.pool("a/b"), RangeError);
    assert.throws(() => keys.meta(""), RangeError);
  });

  it("parsePoolKey() classifies keys under pools/", () => {
    assert.deepEqual(keys.parsePoolKey("/t/pools/p/meta"), { pool: "p", kind: "meta" });
    assert.deepEqual(keys.parsePoolKey("/t/pools/p/entries/+5"), { pool: "p", kind: "entry", offset: "+5" });
    assert.deepEqual(keys.parsePoolKey("/t/pools/p/entries/a/b"), {
      pool: "p",
      kind: "entry",
      offset: "a/b",
    });
    assert.deepEqual(keys.parsePoolKey("/t/pools/p/later"), { pool: "p", kind: "other" });
    assert.equal(keys.parsePoolKey("/t/pools/p"), undefined);
    assert.equal(keys.parsePoolKey("/t/reservations/x"), undefined);
  });
});

describe("prefixEnd()", () => {
  it("is the prefix with its last byte incremented", () => {
    assert.equal(decode(prefixEnd("/a/pools/")), "/a/pools0");
    assert.deepEqual(Buffer.from(prefixEnd("a\xff"), "base64"), Buffer.from([0x61, 0xc3, 0xc0]));
  });
});

describe("entry and meta documents", () => {
  it("encodeEntry() writes the CRD entry shape canonically, omitting an empty ifname", () => {
    assert.equal(
      encodeEntry({ containerId: "c1", podRef: "ns/a", ifName: "eth0" }),
      '{"id":"c1","podref":"ns/a","ifname":"eth0"}',
    );
    assert.equal(
      encodeEntry({ ifName: "", podRef: "ns/b", containerId: "c5" }),
      '{"id":"c5","podref":"ns/b"}',
    );
  });

  it("decodeEntry() round-trips and refuses what is not an entry, naming the key", () => {
    const a = { containerId: "c7", podRef: "ns/a", ifName: "" };
    assert.deepEqual(decodeEntry("k", encodeEntry(a)), a);
    assert.deepEqual(decodeEntry("k", '{"id":"c"}'), { containerId: "c", podRef: "", ifName: "" });
    for (const text of ["not json", "[]", '{"podref": "x"}', '{"id": 1}'])
      assert.throws(
        () => decodeEntry("/t/pools/p/entries/1", text),
        (error: unknown) =>
          error instanceof StoredDataError && error.message.includes("/t/pools/p/entries/1"),
      );
  });

  it("sticky entries carry owner and parkedat (RFC 3339) after the CRD fields; release records carry their time", () => {
    const a = {
      containerId: "c1",
      podRef: "ns/web-0",
      ifName: "eth0",
      owner: "statefulset/ns/web/0",
      parkedAt: 1_767_225_600_123,
    };
    const text = encodeEntry(a);
    assert.equal(
      text,
      '{"id":"c1","podref":"ns/web-0","ifname":"eth0","owner":"statefulset/ns/web/0","parkedat":"2026-01-01T00:00:00.123Z"}',
    );
    assert.deepStrictEqual(decodeEntry("k", text), a);
    assert.equal(encodeReleased(1_767_225_600_123), '{"at":"2026-01-01T00:00:00.123Z"}');
    assert.equal(decodeReleased("k", encodeReleased(1_767_225_600_123)), 1_767_225_600_123);
    for (const text of [
      '{"id":"c","owner":1}',
      '{"id":"c","parkedat":"yesterday"}',
      '{"id":"c","parkedat":5}',
    ])
      assert.throws(() => decodeEntry("k", text), StoredDataError, text);
    assert.throws(() => decodeReleased("k", '{"at":"soon"}'), StoredDataError);
  });

  it("meta round-trips its range", () => {
    assert.equal(encodeMeta("10.0.0.0/24"), '{"range":"10.0.0.0/24"}');
    assert.equal(decodeMeta("k", encodeMeta("10.0.0.0/24")), "10.0.0.0/24");
    assert.throws(() => decodeMeta("k", "{}"), StoredDataError);
  });
});

describe("decodePools()", () => {
  it("groups keys by pool, orders entries by offset and stamps the read revision", () => {
    const e = (id: string) => ({ containerId: id, podRef: `ns/${id}`, ifName: "eth0" });
    const pools = decodePools(
      keys,
      [
        kv("/t/pools/a-b/meta", encodeMeta("10.1.0.0/24")),
        kv("/t/pools/a/entries/10", encodeEntry(e("c10"))),
        kv("/t/pools/a/entries/2", encodeEntry(e("c2"))),
        kv("/t/pools/a/entries/__proto__", encodeEntry(e("cp"))),
        kv("/t/pools/a/meta", encodeMeta("10.0.0.0/24")),
        kv("/t/pools/a/future", "anything"),
        kv("/t/pools/a/released/3", encodeReleased(1_767_225_600_123)),
        kv("/t/pools/gone/released/3", encodeReleased(5)),
      ],
      "42",
    );
    assert.deepStrictEqual(pools, [
      {
        name: "a",
        range: "10.0.0.0/24",
        allocations: new Map([
          ["2", e("c2")],
          ["10", e("c10")],
          ["__proto__", e("cp")],
        ]),
        released: new Map([["3", 1_767_225_600_123]]),
        version: "42",
      },
      { name: "a-b", range: "10.1.0.0/24", allocations: new Map(), released: new Map(), version: "42" },
    ]);
  });

  it("reads no keys as no pools, and refuses entries without the pool's meta key", () => {
    assert.deepEqual(decodePools(keys, [], "1"), []);
    assert.throws(
      () => decodePools(keys, [kv("/t/pools/p/entries/1", '{"id":"c"}')], "1"),
      (error: unknown) => error instanceof StoredDataError && error.message.includes("/t/pools/p/"),
    );
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

  it("carry the claim after the owner when one is recorded; half a claim is refused", () => {
    const r = {
      name: "x-fd00-1--5",
      podRef: "ns/a",
      ifName: "eth0",
      containerId: "c1",
      claim: { address: "fd00:1::5", networkName: "x" },
    };
    assert.equal(
      encodeReservation(r),
      '{"podref":"ns/a","ifname":"eth0","containerid":"c1","address":"fd00:1::5","network_name":"x"}',
    );
    assert.deepEqual(decodeReservation(r.name, "k", encodeReservation(r)), r);
    for (const half of ['{"podref":"ns/a","address":"10.0.0.1"}', '{"podref":"ns/a","network_name":""}'])
      assert.throws(() => decodeReservation("x", "k", half), StoredDataError, half);
  });
});
