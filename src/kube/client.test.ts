import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { goJson } from "./client.ts";

describe("KubeClient", () => {
  it("encodes request bodies as Go does, so JSON-patch string tests compare byte-equal", () => {
    assert.equal(goJson({ podref: "a<b>&c\u2028" }), '{"podref":"a\\u003cb\\u003e\\u0026c\\u2028"}');
  });
});
