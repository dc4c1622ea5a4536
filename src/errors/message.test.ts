import assert from "node:assert/strict";
import { test } from "node:test";
import { clip, listed, quote, shorten, withoutCredentials } from "./message.ts";

test("shorten() cuts with an ellipsis and never splits a surrogate pair", () => {
  assert.equal(shorten("abcdef", 6), "abcdef");
  assert.equal(shorten("abcdefg", 6), "abcde…");
  assert.equal(shorten("abcd😀x", 6), "abcd…");
  assert.equal(clip("x".repeat(500)).length, 100);
});

test("quote() JSON-quotes, escaping control characters, at most ~100 characters", () => {
  assert.equal(quote('a"b\nc'), '"a\\"b\\nc"');
  const long = quote("y".repeat(1000));
  assert.equal(long.length, 102);
  assert.ok(long.endsWith('…"'));
});

test("listed() shows whole items up to ~100 characters, then how many were left out", () => {
  assert.equal(listed([]), "");
  assert.equal(listed(["10.0.0.1/32", "10.0.0.2/32"]), "10.0.0.1/32 10.0.0.2/32");
  const many = Array.from({ length: 65_536 }, (_, i) => `10.0.${i >> 8}.${i & 255}/32`);
  const text = listed(many);
  assert.ok(text.length < 130, text);
  assert.match(text, /^10\.0\.0\.0\/32 10\.0\.0\.1\/32 .* …\(655\d\d more\)$/);
});

test("withoutCredentials() drops user:password@ from URLs and host:port forms", () => {
  const rows: [string, string][] = [
    ["http://user:pass@etcd:2379", "http://***@etcd:2379"],
    ["https://u:p%40ss@10.0.0.1:2379/", "https://***@10.0.0.1:2379/"],
    ["http://u:p@ss/x@etcd:2379", "http://***@etcd:2379"],
    ["user:pass@etcd:2379", "***@etcd:2379"],
    ["http://etcd:2379", "http://etcd:2379"],
    ["etcd:2379", "etcd:2379"],
  ];
  for (const [input, want] of rows) assert.equal(withoutCredentials(input), want, input);
});
