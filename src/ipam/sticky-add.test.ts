// ADD's sticky, requested and cooldown paths over a memory store: what each decision commits
// (entry, reservation takeover, release records) and that a refusal commits nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "../config/test-support.ts";
import { CniError } from "../errors/errors.ts";
import { formatIP, parseIP } from "../ip/index.ts";
import type { ReadOptions } from "../store/store.ts";
import { poolChange } from "../store/store.ts";
import { addAttachment } from "./add.ts";
import { deleteAttachment } from "./del.ts";
import { type Scene, scene } from "./test-support.ts";

const KUBE = { kubeconfig: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig" };
const sticky = load({ range: "10.0.0.0/24", sticky_addresses: true, kubernetes: KUBE });
const POOL = "10.0.0.0-24";
const source = {
  containerId: "c-src",
  podRef: "ns/virt-launcher-vm-a-1",
  ifName: "eth0",
  owner: "vm/ns/vm-a",
};
const target = {
  containerId: "c-tgt",
  podRef: "ns/virt-launcher-vm-a-2",
  ifName: "eth0",
  owner: "vm/ns/vm-a",
};
const addresses = async (s: Scene, who: Parameters<typeof addAttachment>[2], config = sticky) =>
  (await addAttachment(s.store, config, who, s.deadline(), s.log)).addresses.map((a) => formatIP(a.address));

describe("addAttachment() with owners, requests and a cooldown", () => {
  it("a new entry carries the owner; another pod of the owner takes the entry over with its reservation (replaces the holder)", async () => {
    const s = scene();
    assert.deepEqual(await addresses(s, source), ["10.0.0.1"]);
    assert.deepEqual((await s.store.getPool(POOL)).allocations.get("1"), source);
    assert.deepEqual(await addresses(s, target), ["10.0.0.1"]);
    assert.deepEqual((await s.store.getPool(POOL)).allocations.get("1"), target);
    const commit = s.store.calls.filter((c) => c.call === "commit").at(-1)!;
    const change = commit.args[0] as { reserve: { replaces?: unknown }[] };
    assert.deepEqual(change.reserve[0]?.replaces, {
      containerId: source.containerId,
      podRef: source.podRef,
      ifName: "eth0",
    });
    const reservation = await s.store.getReservation("10.0.0.1");
    assert.deepEqual(
      [reservation?.podRef, reservation?.containerId],
      [target.podRef, target.containerId],
      "one reservation, now the target's",
    );
    assert.equal(Object.hasOwn(reservation ?? {}, "owner"), false, "reservations carry no entry fields");
    // The source's DEL finds nothing of its own: the target keeps address and reservation.
    const gone = await deleteAttachment(s.store, sticky, source, source.podRef, s.deadline());
    assert.deepEqual(gone, []);
    assert.deepEqual((await s.store.getPool(POOL)).allocations.get("1"), target);
    assert.equal((await s.store.getReservation("10.0.0.1"))?.podRef, target.podRef);
  });

  it("a parked entry is unparked by its owner's next pod", async () => {
    const s = scene();
    await addresses(s, source);
    await deleteAttachment(s.store, sticky, source, source.podRef, s.deadline());
    assert.notEqual((await s.store.getPool(POOL)).allocations.get("1")?.parkedAt, undefined);
    assert.deepEqual(await addresses(s, { ...target, podRef: "ns/other" }), ["10.0.0.1"]);
    assert.equal((await s.store.getPool(POOL)).allocations.get("1")?.parkedAt, undefined);
  });

  it("a requested address is allocated and recorded; one held by another pod is refused with code 7 and nothing written", async () => {
    const s = scene();
    const plain = load({ range: "10.0.0.0/24" });
    const want = (text: string) => ({ addresses: [parseIP(text)!], source: "runtimeConfig ips" });
    const a = { containerId: "c-a", podRef: "ns/a", ifName: "eth0" };
    assert.deepEqual(await addresses(s, { ...a, requested: want("10.0.0.77") }, plain), ["10.0.0.77"]);
    const commits = s.store.count("commit");
    await assert.rejects(
      addresses(
        s,
        { containerId: "c-b", podRef: "ns/b", ifName: "eth0", requested: want("10.0.0.77") },
        plain,
      ),
      (error: unknown) =>
        error instanceof CniError && error.code === 7 && /10\.0\.0\.77 is held by ns\/a/.test(error.message),
    );
    await assert.rejects(
      addresses(
        s,
        { containerId: "c-b", podRef: "ns/b", ifName: "eth0", requested: want("10.9.0.1") },
        plain,
      ),
      (error: unknown) =>
        error instanceof CniError && error.code === 7 && /outside every range/.test(error.message),
    );
    assert.equal(s.store.count("commit"), commits, "no commit for a refused request");
  });

  it("under a cooldown a new entry forgets its address's release record, and the choice is made on the store's own view", async () => {
    const s = scene();
    const cooling = load({ range: "10.0.0.0/29", reuse_cooldown_seconds: 10 });
    const other = { containerId: "c-x", podRef: "ns/x", ifName: "eth0" };
    s.store.data.commit(
      poolChange("10.0.0.0-29", "10.0.0.0/29", {
        create: ["3", "4", "5", "6"].map((key) => [key, { ...other, containerId: `c-${key}` }] as const),
        release: [["1", s.clock.now() - 20_000]],
      }),
    );
    let verifiable: ReadOptions["verifiable"];
    const getPool = s.store.getPool.bind(s.store);
    s.store.getPool = (name, options) => {
      verifiable = options?.verifiable;
      return getPool(name, options);
    };
    assert.deepEqual(await addresses(s, { containerId: "c-a", podRef: "ns/a", ifName: "eth0" }, cooling), [
      "10.0.0.2",
    ]);
    const view = await getPool("10.0.0.0-29");
    assert.equal(
      verifiable?.(view),
      false,
      "a cached view is not trusted for a new address under a cooldown",
    );
    assert.deepEqual(await addresses(s, { containerId: "c-b", podRef: "ns/b", ifName: "eth0" }, cooling), [
      "10.0.0.1",
    ]);
    assert.deepEqual([...(await getPool("10.0.0.0-29")).released], [], "the reused address's record is gone");
  });
});
