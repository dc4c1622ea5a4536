// Label selectors (k8s.io/apimachinery/pkg/labels/selector.go grammar: `a=b`, `a==b`, `a!=b`,
// `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`) and field selectors
// (k8s.io/apimachinery/pkg/fields/selector.go: `k=v`, `k==v`, `k!=v`, backslash escapes).
import { badRequest } from "./status.ts";
import { isQualifiedName, isValidLabelValue } from "./validation.ts";

type LabelOp = "exists" | "!" | "=" | "!=" | "in" | "notin" | ">" | "<";

export interface LabelRequirement {
  readonly key: string;
  readonly op: LabelOp;
  readonly values: readonly string[];
}

export type LabelSelector = readonly LabelRequirement[];

const SPECIAL = new Set(["!", "=", "(", ")", ",", ">", "<", " ", "\t", "\r", "\n"]);

function tokenize(s: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      i++;
    } else if (c === "!" && s[i + 1] === "=") {
      tokens.push("!=");
      i += 2;
    } else if (c === "=" && s[i + 1] === "=") {
      tokens.push("==");
      i += 2;
    } else if (SPECIAL.has(c)) {
      tokens.push(c);
      i++;
    } else {
      let j = i;
      while (j < s.length && !SPECIAL.has(s[j]!)) j++;
      tokens.push(`\u0000${s.slice(i, j)}`); // identifiers are tagged so "in" is distinguishable
      i = j;
    }
  }
  return tokens;
}

const isIdent = (t: string | undefined): t is string => t?.startsWith("\u0000") === true;
const ident = (t: string): string => t.slice(1);

function parseError(detail: string): Error {
  return badRequest(`unable to parse requirement: ${detail}`);
}

/** Parses a label selector; throws a 400 BadRequest ApiError on a syntax or validation error. */
export function parseLabelSelector(input: string): LabelSelector {
  const tokens = tokenize(input);
  const out: LabelRequirement[] = [];
  let i = 0;
  const expectValue = (): string => {
    const t = tokens[i];
    if (isIdent(t)) {
      i++;
      return ident(t);
    }
    return ""; // `a=` selects the empty value, as upstream
  };
  while (i < tokens.length) {
    let t = tokens[i]!;
    if (t === "!") {
      i++;
      const key = tokens[i];
      if (!isIdent(key)) throw parseError(`found '${key ?? "EOF"}', expected: identifier after '!'`);
      i++;
      out.push(checked({ key: ident(key), op: "!", values: [] }));
    } else if (isIdent(t)) {
      const key = ident(t);
      i++;
      const op = tokens[i];
      if (op === undefined || op === ",") {
        out.push(checked({ key, op: "exists", values: [] }));
      } else if (op === "=" || op === "==" || op === "!=" || op === ">" || op === "<") {
        i++;
        const value = expectValue();
        const norm: LabelOp = op === "==" ? "=" : op;
        out.push(checked({ key, op: norm, values: [value] }));
      } else if (isIdent(op) && (ident(op) === "in" || ident(op) === "notin")) {
        i++;
        if (tokens[i] !== "(") throw parseError(`found '${tokens[i] ?? "EOF"}', expected: '('`);
        i++;
        const values: string[] = [];
        for (;;) {
          const v = tokens[i];
          if (v === ")") {
            i++;
            break;
          }
          if (isIdent(v)) {
            values.push(ident(v));
            i++;
          } else if (v === ",") {
            values.push("");
          } else throw parseError(`found '${v ?? "EOF"}', expected: ',', ')' or identifier`);
          const sep = tokens[i];
          if (sep === ",") i++;
          else if (sep !== ")") throw parseError(`found '${sep ?? "EOF"}', expected: ',' or ')'`);
        }
        out.push(checked({ key, op: ident(op) as LabelOp, values }));
      } else {
        throw parseError(`found '${isIdent(op) ? ident(op) : op}', expected: in, notin, =, ==, !=, gt, lt`);
      }
    } else {
      throw parseError(`found '${t}', expected: !, identifier, or 'end of string'`);
    }
    t = tokens[i] ?? "";
    if (t === ",") {
      i++;
      if (i >= tokens.length) throw parseError("found '', expected: identifier after ','");
    } else if (i < tokens.length) throw parseError(`found '${isIdent(t) ? ident(t) : t}', expected: ','`);
  }
  return out;
}

function checked(r: LabelRequirement): LabelRequirement {
  const keyErrs = isQualifiedName(r.key);
  if (keyErrs.length > 0)
    throw parseError(`key: Invalid value: ${JSON.stringify(r.key)}: ${keyErrs.join("; ")}`);
  if (r.op === ">" || r.op === "<") {
    if (r.values.length !== 1 || !/^-?\d+$/.test(r.values[0]!))
      throw parseError("for 'Gt', 'Lt' operators, the value must be an integer");
  } else {
    r.values.forEach((v, n) => {
      const errs = isValidLabelValue(v);
      if (errs.length > 0)
        throw parseError(`values[${n}][${r.key}]: Invalid value: ${JSON.stringify(v)}: ${errs.join("; ")}`);
    });
  }
  return r;
}

export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const r of selector) {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case "exists":
        if (!has) return false;
        break;
      case "!":
        if (has) return false;
        break;
      case "=":
      case "in":
        if (!has || !r.values.includes(v!)) return false;
        break;
      case "!=":
      case "notin":
        if (has && r.values.includes(v!)) return false;
        break;
      case ">":
      case "<": {
        if (!has || !/^-?\d+$/.test(v!)) return false;
        const [a, b] = [BigInt(v!), BigInt(r.values[0]!)];
        if (r.op === ">" ? !(a > b) : !(a < b)) return false;
        break;
      }
    }
  }
  return true;
}

export interface FieldRequirement {
  readonly field: string;
  readonly op: "=" | "!=";
  readonly value: string;
}

export type FieldSelector = readonly FieldRequirement[];

function splitUnescaped(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
    } else if (c === sep) {
      parts.push(cur);
      cur = "";
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

const unescapeSelector = (s: string): string => s.replace(/\\(.)/g, "$1");

/** Parses a field selector; throws a 400 BadRequest ApiError on a syntax error. */
export function parseFieldSelector(input: string): FieldSelector {
  if (input.trim() === "") return [];
  const out: FieldRequirement[] = [];
  for (const term of splitUnescaped(input, ",")) {
    if (term === "") continue;
    let found: FieldRequirement | undefined;
    for (let i = 0; i < term.length && !found; i++) {
      if (term[i] === "\\") {
        i++;
        continue;
      }
      for (const op of ["!=", "==", "="] as const) {
        if (term.startsWith(op, i)) {
          found = {
            field: unescapeSelector(term.slice(0, i)),
            op: op === "==" ? "=" : op,
            value: unescapeSelector(term.slice(i + op.length)),
          };
          break;
        }
      }
    }
    if (!found) throw badRequest(`invalid selector: '${input}'; can't understand '${term}'`);
    out.push(found);
  }
  return out;
}

export function matchesFields(selector: FieldSelector, fields: Readonly<Record<string, string>>): boolean {
  for (const r of selector) {
    const v = fields[r.field] ?? "";
    if (r.op === "=" ? v !== r.value : v === r.value) return false;
  }
  return true;
}

/** The single value a selector pins `field` to (`metadata.name=x`), if it does. */
export function pinnedValue(selector: FieldSelector, field: string): string | undefined {
  return selector.find((r) => r.field === field && r.op === "=")?.value;
}
