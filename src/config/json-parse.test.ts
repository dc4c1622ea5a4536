import assert from "node:assert/strict";
import { test } from "node:test";
import { JsonSyntaxError, MAX_DEPTH, parseJson } from "./json-parse.ts";

test("parseJson() reports Go encoding/json syntax error texts", async (t) => {
  const rows: [string, string][] = [
    ['{"ipam": { asdf }}', "invalid character 'a' looking for beginning of object key string"],
    ["", "unexpected end of JSON input"],
    ["  \n", "unexpected end of JSON input"],
    ['{"a":1', "unexpected end of JSON input"],
    ['{"a', "unexpected end of JSON input"],
    ['{"a":}', "invalid character '}' looking for beginning of value"],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a":1 "b":2}', "invalid character '\"' after object key:value pair"],
    ['{"a":1,}', "invalid character '}' looking for beginning of object key string"],
    ["{'a':1}", "invalid character '\\'' looking for beginning of object key string"],
    ["[1,]", "invalid character ']' looking for beginning of value"],
    ["[1 2]", "invalid character '2' after array element"],
    ["trux", "invalid character 'x' in literal true (expecting 'e')"],
    ["nul", "unexpected end of JSON input"],
    ["fals3", "invalid character '3' in literal false (expecting 'e')"],
    ["1.x", "invalid character 'x' after decimal point in numeric literal"],
    ["1ex", "invalid character 'x' in exponent of numeric literal"],
    ["-x", "invalid character 'x' in numeric literal"],
    ["01", "invalid character '1' after top-level value"],
    ['"\\x"', "invalid character 'x' in string escape code"],
    ['"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"],
    ['"a\nb"', "invalid character '\\n' in string literal"],
    ['"a\tb"', "invalid character '\\t' in string literal"],
    ['"a\u0001b"', "invalid character '\\x01' in string literal"],
    ["{} {}", "invalid character '{' after top-level value"],
    ["\ufeff{}", "invalid character 'ï' looking for beginning of value"],
    ["\\", "invalid character '\\\\' looking for beginning of value"],
    ['{"a":1}\u007f', "invalid character '\\x7f' after top-level value"],
  ];
  for (const [text, message] of rows) {
    await t.test(JSON.stringify(text), () => {
      assert.throws(
        () => parseJson(text),
        (e: unknown) => e instanceof JsonSyntaxError && e.message === message,
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
