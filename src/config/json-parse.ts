// A JSON parser that reports syntax errors in Go encoding/json's words ("invalid character looking
// for beginning of object key string"), because Whereabouts users search for them, and says where
// (line and column). Unlike Go it never quotes the offending character: the text may be a password
// typed without quotes, or a file the configuration should never have named (JSON.parse's
// `Unexpected identifier "hunter2"` is what we avoid).

export type Json = null | boolean | number | string | readonly Json[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: Json;
}

export class JsonSyntaxError extends Error {
  /** Index into the text where scanning stopped. */
  readonly offset: number;
  /** 1-based line and column (in characters) of that index. */
  readonly line: number;
  readonly column: number;
  constructor(message: string, text: string, offset: number) {
    super(message);
    this.name = "JsonSyntaxError";
    this.offset = offset;
    const before = text.slice(0, offset);
    const lineStart = before.lastIndexOf("\n") + 1;
    this.line = before.split("\n").length;
    this.column = offset - lineStart + 1;
  }

  /** "line 3, column 14": where, for a message. */
  get position(): string {
    return `line ${this.line}, column ${this.column}`;
  }
}

/**
 * Go allows 10000 levels; this recursive parser stops at 1000 to stay far from the JS stack limit.
 * Configs nest about five levels deep.
 */
export const MAX_DEPTH = 1000;

const LITERALS: Readonly<Record<string, readonly [string, Json]>> = {
  t: ["true", true],
  f: ["false", false],
  n: ["null", null],
};

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

/**
 * Parses one JSON value. Duplicate keys: the last occurrence wins and moves to the end of the key
 * order, except that a later `null` leaves an earlier value in place (Go decodes null as a no-op).
 * Throws JsonSyntaxError (Go's wording, no quoted input) on malformed text.
 */
export function parseJson(text: string): Json {
  let pos = 0;
  let depth = 0;

  const fail = (context: string): never => {
    if (pos >= text.length) throw new JsonSyntaxError("unexpected end of JSON input", text, pos);
    throw new JsonSyntaxError(`invalid character ${context}`.trimEnd(), text, pos);
  };
  const skipSpace = () => {
    while (pos < text.length && " \t\n\r".includes(text[pos]!)) pos++;
  };
  const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";

  const value = (): Json => {
    skipSpace();
    const c = text[pos];
    if (c === "{") return object();
    if (c === "[") return array();
    if (c === '"') return string();
    if (c === "-" || isDigit(c)) return number();
    const literal = c === undefined ? undefined : LITERALS[c];
    if (literal === undefined) return fail("looking for beginning of value");
    const [word, result] = literal;
    for (let i = 1; i < word.length; i++) {
      pos++;
      if (text[pos] !== word[i]) fail(`in literal ${word} (expecting '${word[i]}')`);
    }
    pos++;
    return result;
  };

  const nest = () => {
    if (++depth > MAX_DEPTH) throw new JsonSyntaxError("exceeded max depth", text, pos);
  };

  const object = (): JsonObject => {
    nest();
    const out: Record<string, Json> = {};
    pos++;
    skipSpace();
    if (text[pos] === "}") {
      pos++;
      depth--;
      return out;
    }
    for (;;) {
      if (text[pos] !== '"') fail("looking for beginning of object key string");
      const key = string();
      skipSpace();
      if (text[pos] !== ":") fail("after object key");
      pos++;
      const item = value();
      const seen = Object.hasOwn(out, key);
      if (!seen || item !== null) {
        if (seen) delete out[key];
        // defineProperty so a "__proto__" key stays an ordinary own property.
        Object.defineProperty(out, key, {
          value: item,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      skipSpace();
      if (text[pos] === ",") {
        pos++;
        skipSpace();
        continue;
      }
      if (text[pos] === "}") break;
      fail("after object key:value pair");
    }
    pos++;
    depth--;
    return out;
  };

  const array = (): Json[] => {
    nest();
    const out: Json[] = [];
    pos++;
    skipSpace();
    if (text[pos] === "]") {
      pos++;
      depth--;
      return out;
    }
    for (;;) {
      out.push(value());
      skipSpace();
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      if (text[pos] === "]") break;
      fail("after array element");
    }
    pos++;
    depth--;
    return out;
  };

  const string = (): string => {
    pos++;
    let out = "";
    let runStart = pos;
    for (;;) {
      const c = text[pos];
      if (c === undefined) return fail("");
      if (c === '"') break;
      if (c.charCodeAt(0) < 0x20) fail("in string literal");
      if (c !== "\\") {
        pos++;
        continue;
      }
      out += text.slice(runStart, pos);
      pos++;
      const e = text[pos];
      if (e === "u") {
        out += unicodeEscape();
      } else {
        const decoded = e === undefined ? undefined : ESCAPES[e];
        if (decoded === undefined) fail("in string escape code");
        out += decoded;
        pos++;
      }
      runStart = pos;
    }
    out += text.slice(runStart, pos);
    pos++;
    return out;
  };

  /** Reads `uXXXX` (pos at the `u`), pairing surrogates; a lone surrogate becomes U+FFFD as in Go. */
  const unicodeEscape = (): string => {
    const hex4 = (): number => {
      for (let i = 1; i <= 4; i++) {
        if (!/[0-9a-fA-F]/.test(text[pos + i] ?? "")) {
          pos += i;
          fail("in \\u hexadecimal character escape");
        }
      }
      const unit = Number.parseInt(text.slice(pos + 1, pos + 5), 16);
      pos += 5;
      return unit;
    };
    const unit = hex4();
    if (unit < 0xd800 || unit > 0xdfff) return String.fromCharCode(unit);
    if (unit <= 0xdbff && text[pos] === "\\" && text[pos + 1] === "u") {
      const save = pos;
      pos++;
      const low = hex4();
      if (low >= 0xdc00 && low <= 0xdfff) return String.fromCharCode(unit, low);
      pos = save;
    }
    return "\ufffd";
  };

  const number = (): number => {
    const start = pos;
    if (text[pos] === "-") {
      pos++;
      if (!isDigit(text[pos])) fail("in numeric literal");
    }
    if (text[pos] === "0") pos++;
    else while (isDigit(text[pos])) pos++;
    if (text[pos] === ".") {
      pos++;
      if (!isDigit(text[pos])) fail("after decimal point in numeric literal");
      while (isDigit(text[pos])) pos++;
    }
    if (text[pos] === "e" || text[pos] === "E") {
      pos++;
      if (text[pos] === "+" || text[pos] === "-") pos++;
      if (!isDigit(text[pos])) fail("in exponent of numeric literal");
      while (isDigit(text[pos])) pos++;
    }
    return Number(text.slice(start, pos));
  };

  const result = value();
  skipSpace();
  if (pos < text.length) fail("after top-level value");
  return result;
}

export function isJsonObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
