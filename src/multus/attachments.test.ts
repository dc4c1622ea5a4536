import assert from "node:assert/strict";
import { test } from "node:test";
import { planAttachments } from "./attachments.ts";
import { parseDelegate } from "./delegate.ts";
import { parseSelections } from "./selection.ts";

const master = { delegate: parseDelegate({ name: "cbr0", type: "bridge" }), displayName: "cbr0" };
const nad = (annotation: string) =>
  parseSelections(annotation, "pods").map((selection) => ({
    delegate: parseDelegate({ name: selection.name, type: "macvlan" }),
    displayName: `${selection.namespace}/${selection.name}`,
    selection,
  }));

test("interface names: master CNI_IFNAME, others net<position>, a request does not renumber the others", () => {
  const names = planAttachments([master, ...nad("a@foo, b, b")], "eth0").map((a) => [a.ifName, a.master]);
  assert.deepEqual(names, [
    ["eth0", true],
    ["foo", false],
    ["net2", false],
    ["net3", false],
  ]);
});

test("interface names: a request wins even for the master (default-network with @ifname)", () => {
  const [selection] = parseSelections("calico@pod0", "kube-system");
  const plan = planAttachments([{ ...master, selection }], "eth0");
  assert.equal(plan[0]!.ifName, "pod0");
});

test("default-route flags: none unless some element asks; then everyone but the requester of a family", () => {
  assert.ok(
    planAttachments([master, ...nad("a, b")], "eth0").every((a) => !a.filterV4Gateway && !a.filterV6Gateway),
  );
  const plan = planAttachments(
    [master, ...nad('[{"name":"a","default-route":["10.1.1.1"]},{"name":"b"}]')],
    "eth0",
  );
  assert.deepEqual(
    plan.map((a) => [a.filterV4Gateway, a.filterV6Gateway]),
    [
      [true, true],
      [false, true],
      [true, true],
    ],
  );
});
