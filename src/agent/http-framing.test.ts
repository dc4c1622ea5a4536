import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseResponse, requestBytes } from "./client.ts";
import { formatAnswer, MAX_BODY_BYTES, MAX_HEAD_BYTES, readRequest } from "./http-framing.ts";

const bytes = (text: string) => Buffer.from(text, "latin1");

function refusal(text: string | Buffer): { status: number; reason: string } {
  const framed = readRequest(typeof text === "string" ? bytes(text) : text);
  assert.equal(framed.kind, "refused", `expected a refusal for ${JSON.stringify(String(text).slice(0, 80))}`);
  return framed.kind === "refused"
    ? { status: framed.answer.status, reason: framed.reason }
    : { status: 0, reason: "" };
}

describe("agent HTTP framing", () => {
  it("reads exactly what the plugin sends, arriving in any number of pieces", () => {
    const body = Buffer.from(JSON.stringify({ env: { CNI_COMMAND: "ADD" }, stdin: '{"é":1}' }), "utf8");
    const sent = requestBytes("POST", "/v1/cni", body);
    for (let cut = 0; cut < sent.length; cut++) {
      const framed = readRequest(sent.subarray(0, cut));
      assert.equal(framed.kind, "incomplete", `cut at ${cut}`);
    }
    const framed = readRequest(sent);
    assert.equal(framed.kind, "request");
    if (framed.kind !== "request") return;
    assert.equal(framed.request.method, "POST");
    assert.equal(framed.request.path, "/v1/cni");
    assert.deepEqual(framed.request.body, body);
  });

  it("says how many bytes a request with a known body still needs, and where it goes", () => {
    const sent = requestBytes("POST", "/v1/multus", Buffer.alloc(1000, 120));
    const framed = readRequest(sent.subarray(0, sent.length - 10));
    assert.deepEqual(framed, { kind: "incomplete", needed: sent.length, path: "/v1/multus" });
  });

  it("reads GETs without a body as curl and Node send them; drops the query", () => {
    for (const head of [
      "GET /healthz HTTP/1.1\r\nHost: agent\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n",
      "GET /metrics?x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n",
      "GET /healthz HTTP/1.0\r\n\r\n",
    ]) {
      const framed = readRequest(bytes(head));
      assert.equal(framed.kind, "request", head);
      if (framed.kind === "request") {
        assert.match(framed.request.path, /^\/(healthz|metrics)$/);
        assert.equal(framed.request.body.length, 0);
      }
    }
  });

  it("ignores bytes after the body (one request per connection)", () => {
    const framed = readRequest(
      bytes("POST /v1/cni HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\n\r\n"),
    );
    assert.equal(framed.kind, "request");
    if (framed.kind === "request") assert.equal(framed.request.body.toString(), "{}");
  });

  it("refuses what it does not speak, with a status", () => {
    const cases: [string, number][] = [
      ["GET /healthz\r\n\r\n", 400],
      ["GET healthz HTTP/1.1\r\n\r\n", 400],
      ["GET /a b HTTP/1.1\r\n\r\n", 400],
      ["get /healthz HTTP/1.1\r\n\r\n", 400],
      ["GET /healthz HTTP/2.0\r\n\r\n", 400],
      ["GET /healthz HTTP/1.1\r\nNo-Colon\r\n\r\n", 400],
      ["GET /healthz HTTP/1.1\r\nBad Name: x\r\n\r\n", 400],
      ["GET /healthz HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400],
      ["GET /healthz HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400],
      ["POST /v1/cni HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 501],
      ["POST /v1/cni HTTP/1.1\r\n\r\n{}", 411],
      ["POST /v1/cni HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400],
      ["POST /v1/cni HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400],
      ["POST /v1/cni HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400],
      ["POST /v1/cni HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n", 400],
    ];
    for (const [text, status] of cases) {
      const r = refusal(text);
      assert.equal(r.status, status, JSON.stringify(text));
      assert.equal(r.reason, "malformed");
    }
  });

  it("refuses oversized heads and bodies as soon as it can tell", () => {
    const head = refusal(`GET / HTTP/1.1\r\nX: ${"a".repeat(MAX_HEAD_BYTES)}`);
    assert.deepEqual(head, { status: 431, reason: "too_large" });
    const body = refusal(`POST /v1/cni HTTP/1.1\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`);
    assert.deepEqual(body, { status: 413, reason: "too_large" });
    const justFits = readRequest(bytes(`POST /v1/cni HTTP/1.1\r\nContent-Length: ${MAX_BODY_BYTES}\r\n\r\n`));
    assert.equal(justFits.kind, "incomplete");
  });

  it("answers with Content-Length and Connection: close, as the plugin's reader expects", () => {
    const raw = formatAnswer({ status: 403, type: "text/plain", body: "nö\n" });
    assert.match(raw.toString("latin1"), /\r\nConnection: close\r\n/);
    assert.match(raw.toString("latin1"), /\r\nContent-Length: 4\r\n/);
    assert.deepEqual(parseResponse(raw), { status: 403, text: "nö\n" });
  });
});
