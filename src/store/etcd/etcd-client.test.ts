import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toCniError } from "../../cni/skel.ts";
import { StoreRefusedError, StoreUnavailableError } from "../../errors/errors.ts";
import type { HttpReply, Transport } from "../../net/http-transport.ts";
import { EtcdClient, type EtcdClientOptions } from "./etcd-client.ts";

type Handler = (url: string, body: string, headers: Readonly<Record<string, string>>) => HttpReply | Error;

/** A transport that answers from `handler` and records each request as "<endpoint><path>". */
function fakeTransport(handler: Handler): Transport & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    async request(_method, url, body, headers) {
      log.push(url);
      const reply = handler(url, body ?? "", headers);
      if (reply instanceof Error) throw reply;
      return reply;
    },
    close() {},
  };
}

function client(transport: Transport, options: Partial<EtcdClientOptions> = {}): EtcdClient {
  return new EtcdClient({
    endpoints: ["http://a:1", "http://b:2"],
    timeoutMs: 300,
    attemptTimeoutMs: 100,
    transport,
    ...options,
  });
}

const ok = (body: unknown = {}): HttpReply => ({ status: 200, body: JSON.stringify(body) });
const grpcError = (status: number, code: number, error: string): HttpReply => ({
  status,
  body: JSON.stringify({ error, code, message: error }),
});
const refused = () => Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });

describe("EtcdClient", () => {
  it("fails over from a member that refuses connections and stays on the one that answered", async () => {
    const transport = fakeTransport((url) => (url.startsWith("http://a:1") ? refused() : ok({ n: 1 })));
    const etcd = client(transport);
    assert.deepEqual(await etcd.call("/v3/kv/range", {}, "read"), { n: 1 });
    transport.log.length = 0;
    await etcd.call("/v3/kv/range", {}, "read");
    assert.deepEqual(transport.log, ["http://b:2/v3/kv/range"]);
    assert.ok(etcd.requests === 2 || etcd.requests === 3);
  });

  it("appends paths to endpoints written with a trailing slash", async () => {
    const transport = fakeTransport(() => ok());
    await client(transport, { endpoints: ["http://a:1/"] }).call("/v3/kv/range", {}, "read");
    assert.deepEqual(transport.log, ["http://a:1/v3/kv/range"]);
  });

  it("retries answers like 'no leader' until one succeeds", async () => {
    let calls = 0;
    const etcd = client(
      fakeTransport(() => (++calls < 4 ? grpcError(503, 14, "etcdserver: no leader") : ok({ done: true }))),
    );
    assert.deepEqual(await etcd.call("/v3/kv/txn", {}, "commit"), { done: true });
    assert.equal(etcd.requests, 4);
  });

  it("gives up at the deadline with StoreUnavailableError naming every endpoint and the last error", async () => {
    const etcd = client(fakeTransport(() => refused()));
    const started = performance.now();
    await assert.rejects(etcd.call("/v3/kv/range", {}, "read pool p from"), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.match(
        error.message,
        /^Cannot read pool p from etcd at http:\/\/a:1, http:\/\/b:2: gave up after 300 ms; last error: http:\/\/[ab]:\d: .*ECONNREFUSED/,
      );
      return true;
    });
    assert.ok(performance.now() - started < 600);
  });

  it("fails at once, with code 5 (not 11: try again later), on answers that retrying cannot fix", async () => {
    for (const reply of [
      grpcError(403, 7, "etcdserver: permission denied"),
      grpcError(400, 3, "etcdserver: user name is empty"),
      grpcError(400, 3, "etcdserver: request is too large"),
    ]) {
      const etcd = client(fakeTransport(() => reply));
      await assert.rejects(etcd.call("/v3/kv/range", {}, "read"), (error: unknown) => {
        assert.ok(error instanceof StoreRefusedError, String(error));
        assert.equal(toCniError(error).code, 5);
        return true;
      });
      assert.equal(etcd.requests, 1);
    }
  });

  it("authenticates once, sends the token, and authenticates again when the token is refused", async () => {
    let tokens = 0;
    let refusedOnce = false;
    const transport = fakeTransport((url, body, headers) => {
      if (url.endsWith("/v3/auth/authenticate")) {
        assert.deepEqual(JSON.parse(body), { name: "u", password: "pw" });
        return ok({ token: `t${++tokens}` });
      }
      if (headers["authorization"] === "t1" && !refusedOnce) {
        refusedOnce = true;
        return grpcError(401, 16, "etcdserver: invalid auth token");
      }
      return ok({ token: headers["authorization"] });
    });
    const etcd = client(transport, { username: "u", password: "pw", endpoints: ["http://a:1"] });
    assert.deepEqual(await etcd.call("/v3/kv/range", {}, "read"), { token: "t2" });
    assert.deepEqual(await etcd.call("/v3/kv/range", {}, "read"), { token: "t2" });
    assert.equal(tokens, 2);
    assert.equal(etcd.requests, 5);
  });

  it("goes on without a token when the cluster has auth disabled", async () => {
    const transport = fakeTransport((url, _body, headers) =>
      url.endsWith("/authenticate")
        ? grpcError(400, 9, "etcdserver: authentication is not enabled")
        : ok({ auth: headers["authorization"] ?? "none" }),
    );
    const etcd = client(transport, { username: "u", password: "pw" });
    assert.deepEqual(await etcd.call("/v3/kv/range", {}, "read"), { auth: "none" });
    assert.deepEqual(await etcd.call("/v3/kv/range", {}, "read"), { auth: "none" });
    assert.equal(etcd.requests, 3);
  });

  it("reports wrong credentials without retrying", async () => {
    const etcd = client(
      fakeTransport(() =>
        grpcError(400, 3, "etcdserver: authentication failed, invalid user ID or password"),
      ),
      { username: "u", password: "bad" },
    );
    await assert.rejects(etcd.call("/v3/kv/range", {}, "reach"), (error: unknown) => {
      assert.ok(error instanceof StoreRefusedError, String(error));
      assert.equal(toCniError(error).code, 5);
      assert.match(error.message, /authenticating as "u": .*authentication failed/);
      assert.doesNotMatch(error.message, /bad/);
      return true;
    });
    assert.equal(etcd.requests, 1);
  });

  it("never sends nor names the credentials of an endpoint URL", async () => {
    const transport = fakeTransport(() => refused());
    const etcd = client(transport, { endpoints: ["http://user:s3cr%40t@a:1/", "https://b:2"] });
    await assert.rejects(etcd.call("/v3/kv/range", {}, "reach"), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.match(error.message, /^Cannot reach etcd at http:\/\/a:1, https:\/\/b:2: /);
      assert.doesNotMatch(error.message, /user|s3cr/);
      return true;
    });
    assert.ok(transport.log.length > 0);
    for (const url of transport.log) assert.doesNotMatch(url, /user|s3cr|@/);
  });
});
