import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ADD_TIMEOUT_MS, DEL_TIMEOUT_MS } from "../cni/plugin.ts";
import type { Request } from "../cni/request.ts";
import type { Handlers } from "../cni/skel.ts";
import { CniError } from "../errors/errors.ts";
import { parseCidr } from "../ip/index.ts";
import { CALL_MARGIN_MS, callLimits, withDeadlines } from "./call-deadline.ts";
import { AGENT_TIMEOUT_MS } from "./client.ts";

const never = () => new Promise<never>(() => {});
const req = {} as Request;

function handlers(over: Partial<Handlers>): Handlers {
  return {
    add: async () => ({ ips: [], routes: [], dns: {} }),
    del: async () => {},
    check: async () => {},
    gc: async () => {},
    status: async () => {},
    ...over,
  };
}

describe("call deadlines", () => {
  it("are the plugin's own limits plus a margin", () => {
    assert.equal(callLimits("add"), ADD_TIMEOUT_MS + CALL_MARGIN_MS);
    for (const verb of ["del", "check", "gc", "status"] as const)
      assert.equal(callLimits(verb), DEL_TIMEOUT_MS + CALL_MARGIN_MS);
  });

  it("end before the plugin stops waiting for the agent, so the agent's answer is the one reported", () => {
    for (const verb of ["add", "del", "check", "gc", "status"] as const)
      assert.ok(callLimits(verb) < AGENT_TIMEOUT_MS, verb);
  });

  it("answer a call that never finishes with code 11 once its limit has passed, and say so", async () => {
    let expired = 0;
    const bounded = withDeadlines(handlers({ add: never, del: never }), {
      limits: (verb) => (verb === "add" ? 40 : 20),
      expired: () => expired++,
    });
    const started = Date.now();
    const error = await bounded.add(req).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof CniError);
    assert.equal(error.code, 11);
    assert.match(error.message, /timed out: .* ADD after 0.04 s/);
    assert.ok(Date.now() - started >= 39, "not before the limit");
    await assert.rejects(bounded.del(req), /DEL after 0.02 s/);
    assert.equal(expired, 2);
  });

  it("pass results and errors through untouched when the work is in time, and do not fire later", async () => {
    let expired = 0;
    const failure = new CniError(7, "bad config");
    const bounded = withDeadlines(
      handlers({
        add: async () => ({ ips: [{ address: parseCidr("10.0.0.1/24")! }], routes: [], dns: {} }),
        del: async () => {
          throw failure;
        },
      }),
      { limits: () => 30, expired: () => expired++ },
    );
    assert.deepEqual(await bounded.add(req), {
      ips: [{ address: parseCidr("10.0.0.1/24") }],
      routes: [],
      dns: {},
    });
    await assert.rejects(bounded.del(req), (e) => e === failure);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(expired, 0);
  });
});
