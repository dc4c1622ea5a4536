// The control API: request counting and the ordered request log, every fault kind, latency.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { request } from "../http-client.ts";
import { type Api, createPool, expectStatus, JSON_PATCH, POOLS, unique } from "./support.ts";

export function controlSuite(api: Api): void {
  describe("request counting", () => {
    it("counts requests per verb and resource and logs them in order", async () => {
      const name = unique("count");
      await api().resetRequests();
      await createPool(api, name);
      await api().request("GET", `${POOLS}/${name}`);
      await api().request("GET", POOLS);
      await api().request(
        "PATCH",
        `${POOLS}/${name}`,
        [{ op: "test", path: "/spec/range", value: "10.0.0.0/24" }],
        JSON_PATCH,
      );
      await api().request("GET", `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/whereabouts`);
      await api().request("GET", "/version");
      const r = await api().requests();
      assert.deepEqual(r.counts, {
        "create ippools.whereabouts.cni.cncf.io": 1,
        "get /version": 1,
        "get ippools.whereabouts.cni.cncf.io": 1,
        "get leases.coordination.k8s.io": 1,
        "list ippools.whereabouts.cni.cncf.io": 1,
        "patch ippools.whereabouts.cni.cncf.io": 1,
      });
      assert.equal(r.total, 6);
      assert.deepEqual(
        r.log.map((e) => `${e.verb} ${e.resource} ${e.code}`),
        [
          "create ippools.whereabouts.cni.cncf.io 201",
          "get ippools.whereabouts.cni.cncf.io 200",
          "list ippools.whereabouts.cni.cncf.io 200",
          "patch ippools.whereabouts.cni.cncf.io 200",
          "get leases.coordination.k8s.io 404",
          "get /version 200",
        ],
      );
      await api().resetRequests();
      assert.equal((await api().requests()).total, 0);
    });
  });

  describe("faults", () => {
    it("injects 409, 500, 503, 504 and 429 (APF plain text with Retry-After, or a Status) for the next N matching requests", async () => {
      const name = unique("fault");
      await createPool(api, name);
      const get = () => api().request("GET", `${POOLS}/${name}`);
      await api().setFaults([
        { kind: "conflict", verb: "patch", resource: "ippools", times: 1 },
        { kind: "internalError", verb: "get", resource: "ippools.whereabouts.cni.cncf.io", times: 1 },
        { kind: "serviceUnavailable", verb: "get", resource: "ippools", times: 1 },
        { kind: "gatewayTimeout", verb: "get", resource: "ippools", times: 1 },
        { kind: "tooManyRequests", verb: "get", resource: "ippools", times: 1, retryAfterSeconds: 2 },
        { kind: "tooManyRequests", verb: "get", resource: "ippools", times: 1, format: "status" },
      ]);
      const patch = await api().request("PATCH", `${POOLS}/${name}`, [], JSON_PATCH);
      assert.match(expectStatus(patch, 409, "Conflict").message, /the object has been modified/);
      assert.equal(
        expectStatus(await get(), 500, "InternalError").message,
        "Internal error occurred: injected fault",
      );
      expectStatus(await get(), 503, "ServiceUnavailable");
      assert.match(
        expectStatus(await get(), 504, "Timeout").message,
        /^Timeout: request did not complete within requested timeout/,
      );
      const apf = await get();
      assert.equal(apf.status, 429);
      assert.equal(apf.headers["retry-after"], "2");
      assert.equal(apf.body, "Too many requests, please try again later.\n");
      const asStatus = expectStatus(await get(), 429, "TooManyRequests");
      assert.equal(asStatus.details.retryAfterSeconds, 1);
      expectStatus(await get(), 200);
      expectStatus(await api().request("PATCH", `${POOLS}/${name}`, [], JSON_PATCH), 200);
      assert.deepEqual(await (await api().request("GET", "/__control/faults")).json().rules, []);
    });

    it("drops the connection for a timeout, and fails after committing with `after`", async () => {
      await api().setFaults([{ kind: "timeout", verb: "get", resource: "ippools", times: 1, holdMs: 300 }]);
      const started = Date.now();
      await assert.rejects(api().request("GET", `${POOLS}/whatever`), /socket hang up|ECONNRESET/);
      assert.ok(Date.now() - started >= 280);
      const name = unique("after");
      await api().setFaults([
        { kind: "internalError", verb: "create", resource: "ippools", times: 1, after: true },
      ]);
      const r = await api().request("POST", POOLS, {
        apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
        kind: "IPPool",
        metadata: { name },
        spec: { range: "10.0.0.0/24", allocations: {} },
      });
      expectStatus(r, 500, "InternalError");
      expectStatus(await api().request("GET", `${POOLS}/${name}`), 200);
    });

    it("adds latency per request, per write, or per matching request", async () => {
      const name = unique("slow");
      await createPool(api, name);
      const time = async (f: () => Promise<unknown>) => {
        const t = performance.now();
        await f();
        return performance.now() - t;
      };
      await api().setLatency({ writeMs: 120 });
      assert.ok((await time(() => api().request("PATCH", `${POOLS}/${name}`, [], JSON_PATCH))) >= 110);
      assert.ok((await time(() => api().request("GET", `${POOLS}/${name}`))) < 100);
      await api().setLatency({ requestMs: 120 });
      assert.ok((await time(() => api().request("GET", `${POOLS}/${name}`))) >= 110);
      await api().setLatency({});
      await api().setFaults([
        { kind: "delay", verb: "get", resource: "ippools", name, holdMs: 150, times: 1 },
      ]);
      assert.ok((await time(() => api().request("GET", `${POOLS}/${name}`))) >= 140);
      assert.ok((await time(() => api().request("GET", `${POOLS}/${name}`))) < 100);
    });

    it("fires probabilistic faults reproducibly for a given seed", async () => {
      await api().setFaults([
        { kind: "serviceUnavailable", verb: "get", resource: "/version", probability: 0.5 },
      ]);
      let failures = 0;
      for (let i = 0; i < 40; i++) if ((await api().request("GET", "/version")).status === 503) failures++;
      await api().clearFaults();
      assert.ok(failures > 5 && failures < 35, `${failures} of 40`);
    });

    it("leaves the control API reachable while faults apply to every API request", async () => {
      await api().setFaults([{ kind: "serviceUnavailable" }]);
      expectStatus(await api().request("GET", "/version"), 503, "ServiceUnavailable");
      const control = await request(`${api().url}/__control/health`, api().caPem ? { ca: api().caPem! } : {});
      assert.equal(control.status, 200);
      await api().clearFaults();
    });
  });
}
