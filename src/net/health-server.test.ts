import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startHealthServer } from "./health-server.ts";

describe("health server", () => {
  it("answers probes, readiness and metrics, and nothing else", async () => {
    let ready = false;
    const server = await startHealthServer({
      listen: { host: "127.0.0.1", port: 0 },
      readiness: () => ({ ready, text: ready ? "leader me" : "no contact" }),
      metrics: async () => ({ contentType: "text/plain; version=0.0.4", body: "m_total 1\n" }),
    });
    try {
      const get = async (path: string, method = "GET") => {
        const res = await fetch(`${server.url}${path}`, { method });
        return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
      };
      assert.ok(server.port > 0);
      assert.equal(server.url, `http://127.0.0.1:${server.port}`);
      for (const path of ["/healthz", "/livez", "/healthz?verbose"])
        assert.deepEqual(await get(path), { status: 200, type: "text/plain", body: "ok\n" });
      assert.deepEqual(await get("/readyz"), { status: 503, type: "text/plain", body: "no contact\n" });
      ready = true;
      assert.deepEqual(await get("/readyz"), { status: 200, type: "text/plain", body: "leader me\n" });
      assert.deepEqual(await get("/metrics"), {
        status: 200,
        type: "text/plain; version=0.0.4",
        body: "m_total 1\n",
      });
      assert.equal((await get("/v1/cni")).status, 404);
      assert.equal((await get("/metrics", "POST")).status, 405);
      assert.deepEqual(await get("/healthz", "HEAD"), { status: 200, type: "text/plain", body: "" });
    } finally {
      await server.close();
    }
    await assert.rejects(fetch(`${server.url}/healthz`), "closed");
  });

  it("is always ready without a readiness rule, and reports a failing registry as 500 without details", async () => {
    const server = await startHealthServer({
      listen: { host: "127.0.0.1", port: 0 },
      metrics: async () => {
        throw new Error("secret detail");
      },
    });
    try {
      assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
      const res = await fetch(`${server.url}/metrics`);
      assert.equal(res.status, 500);
      assert.doesNotMatch(await res.text(), /secret/);
    } finally {
      await server.close();
    }
  });

  it("refuses to start on an address in use", async () => {
    const first = await startHealthServer({
      listen: { host: "127.0.0.1", port: 0 },
      metrics: async () => ({ contentType: "text/plain", body: "" }),
    });
    try {
      await assert.rejects(
        startHealthServer({
          listen: { host: "127.0.0.1", port: first.port },
          metrics: async () => ({ contentType: "text/plain", body: "" }),
        }),
        /EADDRINUSE/,
      );
    } finally {
      await first.close();
    }
  });
});
