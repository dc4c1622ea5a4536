// DEL over a scripted memory store: every range released, with every reservation of the owner;
// reservations left by a failed ADD; legacy entries; races and outages.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "../config/test-support.ts";
import { StoreUnavailableError } from "../errors/errors.ts";
import { unreachable, writtenBefore } from "../store/memory/script.ts";
import { poolChange } from "../store/store.ts";
import { deleteAttachment } from "./del.ts";
import { type Scene, scene } from "./test-support.ts";

const me = { containerId: "c-a", podRef: "ns/a", ifName: "eth0" };
const attachment = { containerId: me.containerId, ifName: me.ifName };
const config = load({ ipRanges: [{ range: "10.0.0.0/24" }, { range: "fd00::/120" }] });

function del(s: Scene, pod: { podRef: string | undefined } = me) {
  return deleteAttachment(s.store, config, attachment, pod.podRef, s.deadline());
}

/** `me` holds .1 and fd00::1 with their reservations, and `them` .2. */
function attached(): Scene {
  const s = scene();
  const them = { containerId: "c-b", podRef: "ns/b", ifName: "eth0" };
  s.store.data.commit(
    poolChange("10.0.0.0-24", "10.0.0.0/24", {
      create: [
        ["1", me],
        ["2", them],
      ],
      reserve: [
        { name: "10.0.0.1", ...me },
        { name: "10.0.0.2", ...them },
      ],
    }),
  );
  s.store.data.commit(
    poolChange("fd00---120", "fd00::/120", { create: [["1", me]], reserve: [{ name: "fd00--1", ...me }] }),
  );
  return s;
}

const names = async (s: Scene) => (await s.store.listReservations()).map((r) => r.name);

describe("deleteAttachment()", () => {
  it("releases the attachment's entry and reservation in every range, and nothing of anyone else's", async () => {
    const s = attached();
    const released = await del(s);
    assert.deepEqual(
      released.map((e) => `${e.key} ${e.allocation.podRef}`),
      ["1 ns/a", "1 ns/a"],
    );
    assert.deepEqual([...(await s.store.getPool("10.0.0.0-24")).allocations.keys()], ["2"]);
    assert.equal((await s.store.getPool("fd00---120")).allocations.size, 0);
    assert.deepEqual(await names(s), ["10.0.0.2"]);
  });

  it("drops a reservation of the attachment that no entry names (a writer killed mid-commit)", async () => {
    const s = attached();
    s.store.data.commit(poolChange("10.0.0.0-24", "", { reserve: [{ name: "10.0.0.77", ...me }] }));
    await del(s);
    assert.deepEqual(await names(s), ["10.0.0.2"]);
  });

  it("without entries, drops the reservations held by exactly this attachment (a failed ADD's leftovers)", async () => {
    const s = scene();
    const leftover = { name: "10.0.0.5", ...me };
    const sameInterfaceOtherContainer = { name: "10.0.0.6", ...me, containerId: "c-new" };
    s.store.data.commit(poolChange("x", "", { reserve: [leftover, sameInterfaceOtherContainer] }));
    assert.deepEqual(
      await del(s, { podRef: undefined }),
      [],
      "without a pod name there is no owner to look for",
    );
    assert.deepEqual(await names(s), ["10.0.0.5", "10.0.0.6"]);
    assert.deepEqual(await del(s), []);
    assert.deepEqual(await names(s), ["10.0.0.6"]);
    const dropCall = s.store.calls.find((c) => c.call === "dropReservationsOf")!;
    assert.deepEqual(dropCall.args[0], { podRef: me.podRef, ifName: me.ifName, containerId: me.containerId });
  });

  it("releases an entry without an interface name (Whereabouts <= v0.7) by its container id", async () => {
    const s = scene();
    const legacy = { ...me, ifName: "" };
    s.store.data.commit(poolChange("10.0.0.0-24", "10.0.0.0/24", { create: [["4", legacy]] }));
    assert.deepEqual(
      (await del(s)).map((e) => e.key),
      ["4"],
    );
  });

  it("leaves an entry a new container of the pod took over meanwhile", async () => {
    const s = attached();
    const successor = { ...me, containerId: "c-new" };
    s.store.next(
      "commit",
      writtenBefore(
        poolChange("10.0.0.0-24", "", {
          update: [{ key: "1", from: me, to: successor }],
          reserve: [{ name: "10.0.0.1", ...successor }],
        }),
      ),
    );
    const released = await del(s);
    assert.deepEqual(
      released.map((e) => e.allocation.containerId),
      ["c-a"],
      "only the other range's entry",
    );
    assert.deepEqual((await s.store.getPool("10.0.0.0-24")).allocations.get("1"), successor);
    assert.equal((await s.store.getReservation("10.0.0.1"))?.containerId, "c-new");
  });

  it("fails with code 11 when the store cannot be reached, and the runtime's next DEL finishes the job", async () => {
    const s = attached();
    s.store.next("commit", {}, unreachable());
    await assert.rejects(
      del(s),
      (error: unknown) => error instanceof StoreUnavailableError && error.kind === "unavailable",
    );
    assert.equal((await s.store.getPool("fd00---120")).allocations.size, 1);
    await del(s);
    assert.deepEqual(await names(s), ["10.0.0.2"]);
    assert.equal((await s.store.getPool("fd00---120")).allocations.size, 0);
  });
});

describe("deleteAttachment() of sticky entries and with a reuse cooldown", () => {
  const sticky = load({
    range: "10.0.0.0/24",
    sticky_addresses: true,
    reuse_cooldown_seconds: 30,
    kubernetes: { kubeconfig: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig" },
  });
  const mine = { ...me, owner: "statefulset/ns/web/0" };
  const them = { containerId: "c-b", podRef: "ns/b", ifName: "eth0" };
  const delSticky = (s: Scene) => deleteAttachment(s.store, sticky, attachment, me.podRef, s.deadline());

  function holdingSticky(): Scene {
    const s = scene();
    s.store.data.commit(
      poolChange("10.0.0.0-24", "10.0.0.0/24", {
        create: [
          ["1", mine],
          ["2", them],
        ],
        reserve: [
          { name: "10.0.0.1", ...me },
          { name: "10.0.0.2", ...them },
        ],
      }),
    );
    return s;
  }

  it("parks an entry with an owner: kept with its reservation, parkedAt the time of the DEL, no release record", async () => {
    const s = holdingSticky();
    const at = s.clock.now();
    const letGo = await delSticky(s);
    assert.deepEqual(
      letGo.map((e) => e.allocation),
      [mine],
    );
    const pool = await s.store.getPool("10.0.0.0-24");
    assert.deepEqual(pool.allocations.get("1"), { ...mine, parkedAt: at });
    assert.deepEqual([...pool.released], [], "a parked address is not released");
    assert.deepEqual(await names(s), ["10.0.0.1", "10.0.0.2"]);
  });

  it("a repeated DEL of a parked entry writes nothing and drops no reservation of the attachment", async () => {
    const s = holdingSticky();
    await delSticky(s);
    const parked = (await s.store.getPool("10.0.0.0-24")).allocations.get("1");
    s.clock.advance(5_000);
    const commits = s.store.calls.filter((c) => c.call === "commit").length;
    assert.equal((await delSticky(s)).length, 1, "the parked entry is reported again");
    assert.equal(s.store.calls.filter((c) => c.call === "commit").length, commits, "no commit");
    assert.equal(s.store.calls.filter((c) => c.call === "dropReservationsOf").length, 0);
    assert.deepEqual((await s.store.getPool("10.0.0.0-24")).allocations.get("1"), parked);
    assert.deepEqual(await names(s), ["10.0.0.1", "10.0.0.2"]);
  });

  it("with reuse_cooldown_seconds, a released address gets a release record at the time of the DEL", async () => {
    const s = holdingSticky();
    const at = s.clock.now();
    const b = { containerId: them.containerId, ifName: them.ifName };
    await deleteAttachment(s.store, sticky, b, them.podRef, s.deadline());
    const pool = await s.store.getPool("10.0.0.0-24");
    assert.deepEqual([...pool.allocations.keys()], ["1"]);
    assert.deepEqual([...pool.released], [["2", at]]);
    assert.deepEqual(await names(s), ["10.0.0.1"]);
  });

  it("without a cooldown, a release writes no record", async () => {
    const s = attached();
    await del(s);
    assert.deepEqual([...(await s.store.getPool("10.0.0.0-24")).released], []);
  });

  describe("on a store that reads parts of pools", () => {
    const reads = (s: Scene, call: string) => s.store.calls.filter((c) => c.call === call).length;
    function partsScene(): Scene {
      const s = scene([], { parts: true });
      // A pool with many others' entries, and `me` at .200.
      const others = Array.from(
        { length: 150 },
        (_, i) => [String(i + 1), { containerId: `c-${i}`, podRef: `ns/p${i}`, ifName: "eth0" }] as const,
      );
      s.store.data.commit(
        poolChange("10.0.0.0-24", "10.0.0.0/24", {
          create: [...others, ["200", me]],
          reserve: [{ name: "10.0.0.200", ...me }],
        }),
      );
      return s;
    }

    it("looks the attachment's entry up instead of reading the whole pool", async () => {
      const s = partsScene();
      assert.deepEqual(
        (await del(s)).map((e) => e.key),
        ["200"],
      );
      assert.equal(
        reads(s, "getPool"),
        1,
        "only the range without an entry of `me` (fd00::/120) is read whole",
      );
      assert.ok(reads(s, "getPoolPart") >= 1);
      const left = await s.store.getPool("10.0.0.0-24");
      assert.equal(left.allocations.size, 150);
      assert.ok(!left.allocations.has("200"));
      assert.deepEqual(await names(s), []);
    });

    it("reads the whole pool when the lookup finds nothing: an entry without an interface name is still released", async () => {
      const s = scene([], { parts: true });
      s.store.data.commit(
        poolChange("10.0.0.0-24", "10.0.0.0/24", { create: [["4", { ...me, ifName: "" }]] }),
      );
      assert.deepEqual(
        (await del(s)).map((e) => e.key),
        ["4"],
      );
      assert.ok(reads(s, "getPool") >= 1);
    });

    it("reads the whole pool when CNI_ARGS name no pod", async () => {
      const s = partsScene();
      assert.deepEqual(
        (await del(s, { podRef: undefined })).map((e) => e.key),
        ["200"],
      );
      assert.equal(reads(s, "getPoolPart"), 0);
    });
  });
});
