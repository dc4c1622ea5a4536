import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toCniError } from "../cni/skel.ts";
import { load } from "../config/test-support.ts";
import { StoredDataError } from "../errors/errors.ts";
import { formatIP, parseCidr } from "../ip/index.ts";
import type { PoolSnapshot } from "../pool/allocation.ts";
import { baseOf, type PoolRef, poolOf, rangeMismatch, sameRange, storedRange } from "./pool-ref.ts";
import { storedEntries } from "./release.ts";

function ref(range: string, networkName = ""): PoolRef {
  const config = load({ range, ...(networkName === "" ? {} : { network_name: networkName }) });
  return poolOf(config, config.ranges[0]!);
}

function stored(name: string, range: string, keys: readonly string[] = []): PoolSnapshot {
  const allocations = new Map(
    keys.map((k) => [k, { containerId: `c${k}`, podRef: `ns/p${k}`, ifName: "eth0" }]),
  );
  return { name, range, allocations, released: new Map(), version: "7" };
}

const cidr = (text: string) => parseCidr(text)!;

function refused(pattern: string): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof StoredDataError, String(error));
    assert.equal(toCniError(error).code, 5);
    assert.equal(error.message, pattern);
    return true;
  };
}

describe("sameRange()", () => {
  it("compares family, prefix and network; host bits in the text do not matter", () => {
    assert.equal(sameRange(cidr("10.0.0.0/24"), cidr("10.0.0.0/24")), true);
    assert.equal(sameRange(cidr("10.0.0.17/24"), cidr("10.0.0.0/24")), true);
    assert.equal(sameRange(cidr("fd00:1::5/64"), cidr("fd00:1::/64")), true);
    assert.equal(sameRange(cidr("10.0.0.0/24"), cidr("10.0.0.0/25")), false);
    assert.equal(sameRange(cidr("10.0.1.0/24"), cidr("10.0.0.0/24")), false);
    assert.equal(sameRange(cidr("::/96"), cidr("0.0.0.0/0")), false);
    assert.equal(sameRange(cidr("fd00:1::/64"), cidr("1::/64")), false);
  });
});

describe("storedRange() and baseOf()", () => {
  it("a missing pool has no stored range; offsets count from the configured network", () => {
    const pool = ref("10.0.0.5/24");
    const missing = {
      name: pool.name,
      range: "",
      allocations: new Map(),
      released: new Map(),
      version: undefined,
    };
    assert.equal(storedRange(missing, pool), undefined);
    assert.equal(formatIP(baseOf(missing, pool)), "10.0.0.0");
    assert.deepEqual(storedEntries(missing, pool), []);
  });

  it("the configured range stored with host bits (as a Go writer may) is the same pool: offsets count from the IP written", () => {
    const pool = ref("10.11.88.96/28");
    const snapshot = stored(pool.name, "10.11.88.97/28", ["1"]);
    assert.equal(formatIP(baseOf(snapshot, pool)), "10.11.88.97");
    assert.deepEqual(
      storedEntries(snapshot, pool).map((e) => formatIP(e.address)),
      ["10.11.88.98"],
    );
  });

  it("refuses a stored range that is not a CIDR of the configured family, quoting it bounded and escaped", () => {
    const pool = ref("10.0.0.0/24");
    assert.throws(
      () => baseOf(stored(pool.name, "garbage"), pool),
      refused(
        'pool 10.0.0.0-24 has spec.range "garbage", which is not an IPv4 CIDR: repair or delete the pool',
      ),
    );
    assert.throws(
      () => baseOf(stored(pool.name, "fd00::/64"), pool),
      refused(
        'pool 10.0.0.0-24 has spec.range "fd00::/64", which is not an IPv4 CIDR: repair or delete the pool',
      ),
    );
    assert.throws(
      () => storedEntries(stored(pool.name, `x\n${"y".repeat(10_000)}`)),
      (error: unknown) => {
        assert.ok(error instanceof StoredDataError);
        assert.ok(error.message.length < 200, `bounded: ${error.message.length} characters`);
        assert.ok(error.message.includes('"x\\nyyy'), error.message);
        assert.ok(!error.message.includes("\n"), "no raw control character");
        return true;
      },
    );
  });

  it("refuses a stored range that differs from the configured one: edited, with what to do", () => {
    const pool = ref("10.0.0.0/24");
    for (const edited of ["10.0.1.0/24", "10.0.0.0/25", "10.0.0.0/16"]) {
      const snapshot = stored(pool.name, edited, ["1"]);
      const message = `pool 10.0.0.0-24 holds range ${edited} but this network configures 10.0.0.0/24: the pool's stored range was changed; restore it to 10.0.0.0/24, or release the pool's addresses and delete it`;
      assert.throws(() => baseOf(snapshot, pool), refused(message));
      assert.throws(() => storedEntries(snapshot, pool), refused(message));
    }
  });

  it("without a configured range (the controller) any stored CIDR is read as it is", () => {
    const snapshot = stored("10.0.0.0-24", "10.0.1.0/24", ["1"]);
    assert.deepEqual(
      storedEntries(snapshot).map((e) => formatIP(e.address)),
      ["10.0.1.1"],
    );
  });
});

describe("rangeMismatch()", () => {
  it("names both networks when the pool name is another network_name's for the stored range", () => {
    // x + fd00:1::/64 and x-fd00 + 1::/64 are both pool x-fd00-1---64.
    const ours = ref("1::/64", "x-fd00");
    assert.equal(ours.name, "x-fd00-1---64");
    assert.equal(
      rangeMismatch(ours.name, cidr("fd00:1::/64"), ours),
      'pool x-fd00-1---64 holds range fd00:1::/64 of network_name "x"; this network (network_name "x-fd00") configures 1::/64: pool names collide, rename one network_name',
    );
    const theirs = ref("fd00:1::/64", "x");
    assert.equal(theirs.name, ours.name);
    assert.equal(
      rangeMismatch(theirs.name, cidr("1::/64"), theirs),
      'pool x-fd00-1---64 holds range 1::/64 of network_name "x-fd00"; this network (network_name "x") configures fd00:1::/64: pool names collide, rename one network_name',
    );
  });

  it('names an unnamed network as network_name ""', () => {
    // "" + fd00:1::/64 and fd00 + 1::/64 are both pool fd00-1---64.
    const named = ref("1::/64", "fd00");
    assert.equal(
      rangeMismatch(named.name, cidr("fd00:1::/64"), named),
      'pool fd00-1---64 holds range fd00:1::/64 of network_name ""; this network (network_name "fd00") configures 1::/64: pool names collide, rename one network_name',
    );
    const unnamed = ref("fd00:1::/64");
    assert.equal(
      rangeMismatch(unnamed.name, cidr("1::/64"), unnamed),
      'pool fd00-1---64 holds range 1::/64 of network_name "fd00"; this network (network_name "") configures fd00:1::/64: pool names collide, rename one network_name',
    );
  });

  it("calls a stored range edited when the pool name does not come from it", () => {
    const pool = ref("fd00:1::/64", "x");
    assert.match(rangeMismatch(pool.name, cidr("fd00:2::/64"), pool), /stored range was changed/);
    assert.match(rangeMismatch(pool.name, cidr("fd00:1::/96"), pool), /stored range was changed/);
  });
});
