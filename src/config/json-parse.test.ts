import assert from "node:assert/strict";
import { test } from "node:test";
import { JsonSyntaxError, MAX_DEPTH, parseJson } from "./json-parse.ts";

test("parseJson() reports syntax errors in Go encoding/json's words, where, and never the input", async (t) => {
  // [text, message, line, column]
  const rows: [string, string, number, number][] = [
    ['{"ipam": { asdf }}', "invalid character looking for beginning of object key string", 1, 12],
    ["", "unexpected end of JSON input", 1, 1],
    ["  \n", "unexpected end of JSON input", 2, 1],
    ['{"a":1', "unexpected end of JSON input", 1, 7],
    ['{"a', "unexpected end of JSON input", 1, 4],
    ['{"a":}', "invalid character looking for beginning of value", 1, 6],
    ['{"a" 1}', "invalid character after object key", 1, 6],
    ['{"a":1 "b":2}', "invalid character after object key:value pair", 1, 8],
    ['{"a":1,}', "invalid character looking for beginning of object key string", 1, 8],
    ["{'a':1}", "invalid character looking for beginning of object key string", 1, 2],
    ["[1,]", "invalid character looking for beginning of value", 1, 4],
    ["[1 2]", "invalid character after array element", 1, 4],
    ["trux", "invalid character in literal true (expecting 'e')", 1, 4],
    ["nul", "unexpected end of JSON input", 1, 4],
    ["fals3", "invalid character in literal false (expecting 'e')", 1, 5],
    ["1.x", "invalid character after decimal point in numeric literal", 1, 3],
    ["1ex", "invalid character in exponent of numeric literal", 1, 3],
    ["-x", "invalid character in numeric literal", 1, 2],
    ["01", "invalid character after top-level value", 1, 2],
    ['"\\x"', "invalid character in string escape code", 1, 3],
    ['"\\u12g4"', "invalid character in \\u hexadecimal character escape", 1, 6],
    ['"a\nb"', "invalid character in string literal", 1, 3],
    ['"a\tb"', "invalid character in string literal", 1, 3],
    ['"a\u0001b"', "invalid character in string literal", 1, 3],
    ["{} {}", "invalid character after top-level value", 1, 4],
    ["\ufeff{}", "invalid character looking for beginning of value", 1, 1],
    ["\\", "invalid character looking for beginning of value", 1, 1],
    ['{"a":1}\u007f', "invalid character after top-level value", 1, 8],
    [
      '{\n  "etcd_host": "h",\n  "etcd_password": hunter2\n}',
      "invalid character looking for beginning of value",
      3,
      20,
    ],
  ];
  for (const [text, message, line, column] of rows) {
    await t.test(JSON.stringify(text), () => {
      assert.throws(
        () => parseJson(text),
        (e: unknown) =>
          e instanceof JsonSyntaxError &&
          e.message === message &&
          e.position === `line ${line}, column ${column}`,
      );
    });
  }
});

test("parseJson() parses values like JSON.parse", () => {
  const text = '{"a":[1,-2.5e3,true,false,null,"x\\"\\\\\\/\\b\\f\\n\\r\\t"],"b":{"c":{}},"d":[]}';
  assert.deepEqual(parseJson(text), JSON.parse(text));
  assert.equal(parseJson(" 0 "), 0);
  assert.equal(parseJson("-0.5E+2"), -50);
});

test("parseJson() decodes \\u escapes, pairs surrogates and replaces lone ones with U+FFFD", () => {
  assert.equal(parseJson('"\\u00e9\\ud83d\\ude00"'), "é😀");
  assert.equal(parseJson('"\\ud83d"'), "\ufffd");
  assert.equal(parseJson('"\\ud83d\\u0041"'), "\ufffdA");
  assert.equal(parseJson('"\\ude00x"'), "\ufffdx");
});

test("parseJson() keeps the last duplicate key, but a later null does not erase a value", () => {
  assert.deepEqual(parseJson('{"a":1,"b":2,"a":3}'), { b: 2, a: 3 });
  assert.deepEqual(Object.keys(parseJson('{"a":1,"b":2,"a":3}') as object), ["b", "a"]);
  assert.deepEqual(parseJson('{"a":1,"a":null}'), { a: 1 });
  assert.deepEqual(parseJson('{"a":null}'), { a: null });
});

test("parseJson() keeps a __proto__ key as an ordinary property", () => {
  const value = parseJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.deepEqual(Object.keys(value), ["__proto__"]);
  assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
});

test("parseJson() rejects nesting deeper than MAX_DEPTH with Go's text", () => {
  assert.throws(() => parseJson("[".repeat(MAX_DEPTH + 1)), /^JsonSyntaxError: exceeded max depth$/);
  assert.throws(() => parseJson('{"a":'.repeat(MAX_DEPTH + 1)), /exceeded max depth/);
  assert.doesNotThrow(() => parseJson(`${"[".repeat(MAX_DEPTH)}${"]".repeat(MAX_DEPTH)}`));
});
