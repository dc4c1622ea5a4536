import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import {
  colourEnabled,
  compactCount,
  fitColumns,
  humanAge,
  lookOf,
  parseFormat,
  printable,
  progressReporter,
  renderData,
  renderTable,
  tableWidth,
  truncate,
  utilisation,
  utilisationBar,
} from "./output.ts";
import { UsageError } from "./usage-error.ts";

const PLAIN = { width: 80, colour: false };
const ANSI = /\x1b\[/;

describe("output: decisions", () => {
  it("colour only on a TTY, and never with NO_COLOR set to anything but empty", () => {
    assert.equal(colourEnabled({ isTTY: true }, {}), true);
    assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: "" }), true);
    assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: "1" }), false);
    assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: "0" }), false);
    assert.equal(colourEnabled({ isTTY: false }, {}), false);
    assert.equal(colourEnabled({}, {}), false);
  });

  it("tables fit the terminal's width, 80 columns when not on one", () => {
    assert.equal(tableWidth({ isTTY: true, columns: 132 }), 132);
    assert.equal(tableWidth({ isTTY: false, columns: 132 }), 80);
    assert.equal(tableWidth({}), 80);
    assert.deepEqual(lookOf({ isTTY: true, columns: 60 }, { NO_COLOR: "x" }), { width: 60, colour: false });
  });

  it("-o takes table, json or yaml; anything else is bad usage", () => {
    assert.equal(parseFormat(undefined), "table");
    assert.equal(parseFormat("yaml"), "yaml");
    assert.throws(() => parseFormat("wide"), UsageError);
  });
});

describe("output: tables", () => {
  it("columns two apart, numbers right-aligned, no trailing spaces", () => {
    const text = renderTable(
      [{ header: "NAME" }, { header: "N", align: "right" }, { header: "LAST" }],
      [
        ["a", "1", ""],
        ["bbbb", "100", "x"],
      ],
      PLAIN,
    );
    assert.equal(text, "NAME    N  LAST\na       1\nbbbb  100  x\n");
  });

  it("a table wider than the width is cut with an ellipsis, the highest shrink priority first", () => {
    const long = "p".repeat(70);
    const text = renderTable(
      [{ header: "POD", shrink: 2 }, { header: "ADDRESS", shrink: 0 }, { header: "NODE" }],
      [[long, "198.51.100.200", "node-with-a-long-name-7"]],
      PLAIN,
    );
    const lines = text.trimEnd().split("\n");
    for (const line of lines) assert.ok([...line].length <= 80, `${line.length}: ${line}`);
    assert.match(lines[1]!, /^p+… {2}198\.51\.100\.200 {2}node-with-a-long-name-7$/, "only POD was cut");
  });

  it("fitColumns gives up to the minimum, then stops", () => {
    assert.deepEqual(fitColumns([{ header: "A" }, { header: "B" }], [10, 10], 12), [5, 5]);
    assert.deepEqual(fitColumns([{ header: "A" }, { header: "B" }], [10, 10], 4), [3, 3]);
    assert.deepEqual(fitColumns([{ header: "A", shrink: 0 }, { header: "B" }], [10, 10], 15), [10, 3]);
  });

  it("truncate and printable", () => {
    assert.equal(truncate("abcdef", 4), "abc…");
    assert.equal(truncate("abc", 3), "abc");
    assert.equal(printable("ns/\x1b[31mpod\x07"), "ns/\\x1b[31mpod\\x07");
  });

  it("stored control characters never reach the terminal; colour only when asked", () => {
    const rows = [["\x1b]0;owned\x07", { text: "x", style: "red" as const }]];
    const plain = renderTable([{ header: "A" }, { header: "B" }], rows, PLAIN);
    assert.doesNotMatch(plain, ANSI);
    assert.doesNotMatch(plain, /\x07/);
    const coloured = renderTable([{ header: "A" }, { header: "B" }], rows, { width: 80, colour: true });
    assert.match(coloured, /\x1b\[31mx\x1b\[0m/);
    assert.doesNotMatch(coloured, /\x1b\]0/);
  });

  it("the utilisation bar: a gauge and a percentage, coloured by how full", () => {
    assert.deepEqual(utilisationBar(0, 14n), { text: "[----------]   0%", style: "green" });
    assert.deepEqual(utilisationBar(3, 14n), { text: "[###-------]  21%", style: "green" });
    assert.deepEqual(utilisationBar(11, 14n), { text: "[########--]  78%", style: "yellow" });
    assert.deepEqual(utilisationBar(14, 14n), { text: "[##########] 100%", style: "red" });
    assert.deepEqual(utilisationBar(1, 2n ** 64n - 2n), { text: "[#---------]  <1%", style: "green" });
    assert.deepEqual(utilisationBar(0, 0n), { text: "[----------]   0%", style: "green" });
    assert.equal(utilisation(1, 3n), 33.3);
    assert.equal(utilisation(13, 14n), 92.8);
  });

  it("counts: exact up to six digits, then SI suffixes, then powers of ten", () => {
    assert.equal(compactCount(254), "254");
    assert.equal(compactCount(999_999n), "999999");
    assert.equal(compactCount(1_234_567n), "1.23M");
    assert.equal(compactCount(65_534n), "65534");
    assert.equal(compactCount(2n ** 64n - 2n), "18.4E");
    assert.equal(compactCount(2n ** 128n), "3.4e38");
  });

  it("ages as kubectl shows them", () => {
    const s = 1000;
    assert.equal(humanAge(undefined), "-");
    assert.equal(humanAge(-5), "-");
    assert.equal(humanAge(45 * s), "45s");
    assert.equal(humanAge(192 * s), "3m12s");
    assert.equal(humanAge(25 * 60 * s), "25m");
    assert.equal(humanAge((5 * 60 + 30) * 60 * s), "5h30m");
    assert.equal(humanAge(20 * 3600 * s), "20h");
    assert.equal(humanAge((3 * 24 + 4) * 3600 * s), "3d4h");
    assert.equal(humanAge(120 * 86400 * s), "120d");
    assert.equal(humanAge((2 * 365 + 30) * 86400 * s), "2y30d");
    assert.equal(humanAge(9 * 365 * 86400 * s), "9y");
  });
});

describe("output: json and yaml", () => {
  it("the same records; bigints as decimal strings; yaml parses back to the json", () => {
    const data = { pools: [{ name: "a", size: 2n ** 64n, used: 3, networkName: null, gone: undefined }] };
    const json = renderData("json", data);
    assert.deepEqual(JSON.parse(json), {
      pools: [{ name: "a", size: "18446744073709551616", used: 3, networkName: null }],
    });
    assert.deepEqual(load(renderData("yaml", data)), JSON.parse(json));
  });
});

describe("output: progress", () => {
  function stream(isTTY: boolean) {
    const writes: string[] = [];
    return { isTTY, columns: 40, writes, write: (t: string) => writes.push(t) };
  }

  it("nothing at all when stderr is not a terminal", () => {
    const s = stream(false);
    const p = progressReporter("checking pools", { stream: s });
    p.step(1, 10);
    p.step(10, 10);
    p.finish();
    assert.deepEqual(s.writes, []);
  });

  it("on a terminal: one line rewritten in place, throttled, cleared at the end", () => {
    const s = stream(true);
    let t = 0;
    const p = progressReporter("checking pools", { stream: s, now: () => t, intervalMs: 100 });
    p.step(1, 200);
    t = 50;
    p.step(2, 200); // throttled
    t = 150;
    p.step(3, 200);
    p.step(200, 200); // the end is always shown
    p.finish();
    assert.deepEqual(s.writes, [
      "\rchecking pools 1/200 (0%)\x1b[K",
      "\rchecking pools 3/200 (1%)\x1b[K",
      "\rchecking pools 200/200 (100%)\x1b[K",
      "\r\x1b[K",
    ]);
  });
});
