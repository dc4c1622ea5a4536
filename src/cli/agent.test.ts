import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_MULTUS_LIMITS } from "../agent/call-gate.ts";
import { parseMultusLimits } from "./agent.ts";

describe("agent flags for meta-plugin calls", () => {
  it("default to the documented limits; each flag sets its own", () => {
    assert.deepEqual(parseMultusLimits({}), DEFAULT_MULTUS_LIMITS);
    assert.deepEqual(
      parseMultusLimits({
        "multus-max-calls": "2",
        "multus-queue": "0",
        "multus-queue-wait-seconds": "20",
      }),
      { running: 2, queued: 0, waitMs: 20_000 },
    );
  });

  it("refuse anything but a whole number in range, naming the flag and the range", () => {
    const cases: [string, string, RegExp][] = [
      ["multus-max-calls", "0", /^--multus-max-calls "0": expected a whole number of calls from 1 to 1024$/],
      ["multus-max-calls", "1025", /from 1 to 1024/],
      ["multus-max-calls", "-1", /expected a whole number/],
      ["multus-queue", "1.5", /^--multus-queue "1.5": expected a whole number of calls from 0 to 100000$/],
      ["multus-queue", "", /expected a whole number/],
      ["multus-queue", "1e3", /expected a whole number/],
      [
        "multus-queue-wait-seconds",
        "21",
        /^--multus-queue-wait-seconds "21": expected a whole number of seconds from 0 to 20$/,
      ],
      ["multus-queue-wait-seconds", " 5", /expected a whole number/],
    ];
    for (const [flag, value, message] of cases)
      assert.throws(() => parseMultusLimits({ [flag]: value }), { message }, `--${flag} ${value}`);
  });
});
