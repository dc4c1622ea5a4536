import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCidr } from "../../ip/index.ts";
import { parseGoRange } from "./go-etcd-layout.ts";
import type { MigrationResult } from "./migrate.ts";
import { planMigration, unconfiguredPool } from "./plan.ts";
import { migrationRecord, renderMigration, wrapText } from "./report.ts";

const look = { width: 80, colour: false };

function result(applied: MigrationResult["applied"], present = ""): MigrationResult {
  const range = parseCidr("10.10.0.0/16")!;
  const source = parseGoRange(range, `10.10.0.1 c1\n10.10.0.2 c2${present}`);
  const pools =
    present === ""
      ? new Map()
      : new Map([
          [
            "10.10.0.0-16",
            {
              name: "10.10.0.0-16",
              range: "10.10.0.0/16",
              allocations: new Map([["3", { containerId: "c3", podRef: "", ifName: "" }]]),
              version: "1",
              released: new Map(),
            },
          ],
        ]);
  const plan = planMigration({
    ranges: [source],
    locks: [],
    poolFor: (r) => unconfiguredPool(r, ""),
    pools,
    reservations: [],
    overlapping: false,
    networkName: "",
  });
  return {
    source: { revision: "9", ranges: [source], locks: [], otherKeys: 0 },
    selected: [source],
    target: { datastore: "kubernetes", namespace: "kube-system" },
    plan,
    applied,
  };
}

const context = {
  dryRun: false,
  networkName: "",
  overlapping: false,
  endpoints: ["http://user:secret@etcd.example:2379"],
};

test("wrapText() breaks at spaces within the width, indenting every line", () => {
  assert.deepEqual(wrapText("aaa bbb ccc ddd", 9, "  "), ["  aaa bbb", "  ccc ddd"]);
  assert.deepEqual(
    wrapText(`x ${"y".repeat(20)} z`, 10, ""),
    ["x", "y".repeat(20), "z"],
    "a long word stays whole",
  );
});

test("the record says what happened; credentials of an endpoint never show", () => {
  const done = migrationRecord(
    result({ entries: 2, reservations: 0, problems: [], failure: undefined }),
    context,
  );
  assert.equal(done.outcome, "migrated");
  assert.deepEqual(done.source.endpoints, ["http://***@etcd.example:2379"]);
  assert.deepEqual(done.pools[0]?.addresses, [
    { address: "10.10.0.1", containerId: "c1", action: "add" },
    { address: "10.10.0.2", containerId: "c2", action: "add" },
  ]);
  const text = renderMigration(done, look);
  assert.match(
    text,
    /^from: etcd http:\/\/\*\*\*@etcd\.example:2379, revision 9: 1 range, 2 allocations\nto: kubernetes \(namespace kube-system\), network_name "", reservations off\n/,
  );
  assert.match(text, /\nmigrated 2 addresses and 0 reservations into 1 pool; 0 already there\n$/);
  const dry = migrationRecord(result(undefined), { ...context, dryRun: true });
  assert.equal(dry.outcome, "planned");
  assert.match(
    renderMigration(dry, look),
    /\ndry run: 2 addresses and 0 reservations to write in 1 pool, 0 already there;\nnothing written\n$/,
  );
  const stopped = migrationRecord(
    result({ entries: 0, reservations: 0, problems: [], failure: "Cannot write to the API server" }),
    context,
  );
  assert.equal(stopped.outcome, "stopped");
  assert.match(
    renderMigration(stopped, look).replaceAll("\n", " "),
    /stopped after writing 0 addresses and 0 reservations: Cannot write to the API server; run migrate again to finish/,
  );
  const refused = migrationRecord(result(undefined, "\n10.10.0.3 c4"), context);
  assert.equal(refused.outcome, "refused");
  const lines = renderMigration(refused, look).split("\n");
  assert.ok(
    lines.every((l) => l.length <= 80),
    "fits 80 columns",
  );
  assert.ok(
    lines.includes("1 problem: nothing written (2 addresses and 0 reservations to write in 1 pool, 0"),
    lines.join("\n"),
  );
});
