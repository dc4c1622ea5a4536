// Request body decoding as create.go / update.go / patch.go do it: JSON, type meta, then the
// resource's typed or structural decode, with the apiserver's error texts; checkName for PUT and
// PATCH; the body size limit.
import type { IncomingMessage } from "node:http";
import type { Json } from "./json-patch.ts";
import { apiVersionOf, type JsonObject, metaOf, type ResourceDef, str } from "./resources.ts";
import { badRequest, invalid, requestEntityTooLarge } from "./status.ts";
import { DecodeError } from "./typed.ts";
import { invalidValue } from "./validation.ts";

export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BODY_BYTES) throw requestEntityTooLarge(`limit is ${MAX_REQUEST_BODY_BYTES}`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** encoding/json's wording for the syntax errors clients actually cause. */
function goJsonSyntaxError(e: Error, text: string): string {
  if (text.trim() === "" || /Unexpected end of JSON input/.test(e.message))
    return "unexpected end of JSON input";
  const pos = /position (\d+)/.exec(e.message)?.[1];
  const ch = pos !== undefined ? text[Number(pos)] : /Unexpected token '(.)'/.exec(e.message)?.[1];
  return ch !== undefined ? `invalid character '${ch}' looking for beginning of value` : e.message;
}

function summarize(body: string): string {
  if (body.length === 0) return "<empty>";
  if (body.startsWith("{")) return body.length > 30 ? `${body.slice(0, 30)} ...` : body;
  const hex = Buffer.from(body.slice(0, 30)).toString("hex");
  return body.length > 30 ? `${hex} ...` : hex;
}

export const isObject = (v: unknown): v is JsonObject =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** create.go / update.go decoding: JSON, type meta, then the resource's typed or structural decode. */
export function decodeBody(def: ResourceDef, body: string): { obj: JsonObject; unknown: string[] } {
  let parsed: unknown;
  const unrecognized = (msg: string) =>
    badRequest(
      `the object provided is unrecognized (must be of type ${def.kind}): ${msg} (${summarize(body)})`,
    );
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    throw unrecognized(`couldn't get version/kind; json parse error: ${goJsonSyntaxError(e as Error, body)}`);
  }
  if (!isObject(parsed))
    throw unrecognized(
      `couldn't get version/kind; json parse error: json: cannot unmarshal ${Array.isArray(parsed) ? "array" : typeof parsed} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`,
    );
  const obj = parsed;
  const expected = apiVersionOf(def);
  const kind = str(obj["kind"]);
  const apiVersion = str(obj["apiVersion"]);
  if (def.custom && kind === "") throw unrecognized(`Object 'Kind' is missing in '${body}'`);
  if ((def.custom || apiVersion !== "") && apiVersion !== expected)
    throw badRequest(
      `the API version in the data (${apiVersion}) does not match the expected API version (${expected})`,
    );
  if (!def.custom) {
    if (kind !== "" && kind !== def.kind)
      throw badRequest(
        `${kind} in version "${def.version}" cannot be handled as a ${def.kind}: no kind "${kind}" is registered for this endpoint`,
      );
    obj["kind"] = def.kind;
    obj["apiVersion"] = expected;
  }
  try {
    return { obj, unknown: def.decode(obj) };
  } catch (e) {
    if (e instanceof DecodeError)
      throw badRequest(
        `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: ${e.message}`,
      );
    throw e;
  }
}

/** A patched document goes through the codec again; failures are 422 on the `patch` field. */
export function decodePatched(def: ResourceDef, patched: Json): { obj: JsonObject; unknown: string[] } {
  const text = JSON.stringify(patched);
  const patchInvalid = (msg: string) =>
    invalid({ group: "", kind: "" }, "", [invalidValue("patch", text, msg)]);
  if (!isObject(patched))
    throw patchInvalid(
      `json: cannot unmarshal ${Array.isArray(patched) ? "array" : typeof patched} into Go value of type map[string]interface {}`,
    );
  const kind = str(patched["kind"]);
  if (kind === "") throw patchInvalid(`Object 'Kind' is missing in '${text}'`);
  if (!def.custom && (kind !== def.kind || str(patched["apiVersion"]) !== apiVersionOf(def)))
    throw patchInvalid(
      `${kind} in version "${str(patched["apiVersion"])}" cannot be handled as a ${def.kind}`,
    );
  try {
    return { obj: patched, unknown: def.decode(patched) };
  } catch (e) {
    if (e instanceof DecodeError) throw patchInvalid(e.message);
    throw e;
  }
}

/** update.go / patch.go checkName. */
export function checkName(obj: JsonObject, name: string, namespace: string): void {
  const meta = metaOf(obj);
  const objName = str(meta["name"]);
  if (objName !== name)
    throw badRequest(`the name of the object (${objName}) does not match the name on the URL (${name})`);
  const objNs = str(meta["namespace"]);
  if (namespace && objNs && objNs !== namespace)
    throw badRequest(
      `the namespace of the object (${objNs}) does not match the namespace on the request (${namespace})`,
    );
}

export function contentType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim();
}
