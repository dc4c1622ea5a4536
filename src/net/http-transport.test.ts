import assert from "node:assert/strict";
import { test } from "node:test";
import { networkErrorReason } from "./http-transport.ts";

test("networkErrorReason(): a socket error reads as its meaning and code, whatever runtime raised it", () => {
  const bun = Object.assign(new Error("Unable to connect. Is the computer able to access the url?"), {
    code: "ECONNREFUSED",
  });
  const node = new TypeError("fetch failed", {
    cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:2379"), { code: "ECONNREFUSED" }),
  });
  assert.equal(networkErrorReason(bun), "connection refused (ECONNREFUSED)");
  assert.equal(networkErrorReason(node), "connection refused (ECONNREFUSED)");
  assert.equal(
    networkErrorReason(Object.assign(new Error("getaddrinfo ENOTFOUND etcd.example"), { code: "ENOTFOUND" })),
    "host name not found (ENOTFOUND)",
  );
});

test("networkErrorReason(): other errors keep their texts, OpenSSL's reduced to the reason", () => {
  const tls = new TypeError("fetch failed", {
    cause: Object.assign(
      new Error(
        "C0:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889:",
      ),
      { code: "ERR_SSL_CERTIFICATE_VERIFY_FAILED" },
    ),
  });
  assert.equal(networkErrorReason(tls), "certificate verify failed: ERR_SSL_CERTIFICATE_VERIFY_FAILED");
  assert.equal(networkErrorReason(new Error("socket hang up")), "socket hang up");
});
