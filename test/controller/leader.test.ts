// Two replicas: one leads, the other stands by (ready, writing nothing); SIGKILL the leader and the
// standby takes the Lease once it expires (15 s) and frees what was deleted meanwhile.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ApiDouble } from "../k8s-api/harness.ts";
import {
  type Controller,
  createPod,
  createPool,
  deletePod,
  expectOk,
  leaseHolder,
  NS,
  poolEntries,
  startApi,
  startController,
  waitFor,
} from "./support.ts";

describe("controller leader election", () => {
  let api: ApiDouble;
  const replicas: Controller[] = [];
  before(async () => {
    api = await startApi();
  });
  after(async () => {
    for (const r of replicas) await r.kill("SIGKILL");
    await api?.stop();
  });

  it("runs one leader, and the standby takes over and frees pods after the leader is killed", async () => {
    await createPod(api, "default", "p1");
    await createPod(api, "default", "p2");
    await createPool(api, "10.40.0.0-24", "10.40.0.0/24", {
      "1": { id: "c1", podref: "default/p1", ifname: "net1" },
      "2": { id: "c2", podref: "default/p2", ifname: "net1" },
    });
    replicas.push(await startController(api, ["--identity", "replica-a"]));
    replicas.push(await startController(api, ["--identity", "replica-b"]));
    const { value: leaderId } = await waitFor("a leader", async () => await leaseHolder(api), 10_000);
    const leader = replicas.find((r) => r.logs.some((l) => l.msg === "became the leader"))!;
    const standby = replicas.find((r) => r !== leader)!;
    assert.ok(["replica-a", "replica-b"].includes(leaderId));
    await leader.waitForLog((l) => l.msg === "reconciled" && l["trigger"] === "startup");

    // The standby is ready (in contact with the Lease) but does no work.
    await waitFor(
      "the standby to be ready",
      async () => (await standby.get("/readyz")).status === 200,
      10_000,
    );
    assert.match((await standby.get("/readyz")).body, new RegExp(`^standby \\(leader: ${leaderId}\\)`));
    assert.match((await standby.get("/metrics")).body, /^thereabouts_leader 0$/m);
    await deletePod(api, "default", "p1");
    await waitFor(
      "the leader to free p1",
      async () => !(await poolEntries(api, "10.40.0.0-24"))["1"],
      15_000,
    );
    assert.ok(
      !standby.logs.some((l) => l.msg === "released" || l.msg === "reconciled" || l.msg === "listed pods"),
    );

    const lease = expectOk(
      await api.request("GET", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/thereabouts-controller`),
    );
    assert.equal(lease.spec.leaseDurationSeconds, 15);
    assert.match(lease.spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    await leader.kill("SIGKILL");
    const killed = Date.now();
    await deletePod(api, "default", "p2");
    const { ms } = await waitFor(
      "the standby to take over and free p2",
      async () => !(await poolEntries(api, "10.40.0.0-24"))["2"],
      45_000,
      250,
    );
    assert.equal(await leaseHolder(api), standby === replicas[0] ? "replica-a" : "replica-b");
    assert.ok(standby.logs.some((l) => l.msg === "became the leader"));
    const taken = expectOk(
      await api.request("GET", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/thereabouts-controller`),
    );
    assert.equal(taken.spec.leaseTransitions, 1);
    // Not before the Lease expired (15 s of silence on the standby's clock), not much after.
    assert.ok(Date.now() - killed >= 10_000, `took over after ${Date.now() - killed} ms`);
    assert.ok(ms < 45_000);
    assert.equal((await standby.get("/readyz")).status, 200);
    assert.match((await standby.get("/metrics")).body, /^thereabouts_leader 1$/m);
  });
});
