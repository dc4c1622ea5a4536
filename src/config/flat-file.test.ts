import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_FLAT_FILE_PATHS, loadFlatFile } from "./flat-file.ts";
import { assertCniError, fakeReadFile } from "./test-support.ts";

const [ETC_K8S, ETC_CNI, HOST] = DEFAULT_FLAT_FILE_PATHS;
const conf = (gateway: string) => JSON.stringify({ gateway });

test("loadFlatFile() searches configuration_path, the default paths, then the extra paths", async (t) => {
  const rows: [string, Record<string, string>, string | undefined, string[], string | undefined][] = [
    [
      "configuration_path first",
      { "/cfg/w.conf": conf("1"), [ETC_K8S!]: conf("2") },
      "/cfg/w.conf",
      [],
      "/cfg/w.conf",
    ],
    ["then /etc/kubernetes", { [ETC_K8S!]: conf("2"), [ETC_CNI!]: conf("3") }, "/missing.conf", [], ETC_K8S],
    ["then /etc/cni", { [ETC_CNI!]: conf("3"), [HOST!]: conf("4") }, undefined, [], ETC_CNI],
    ["then /host", { [HOST!]: conf("4"), "/extra.conf": conf("5") }, undefined, ["/extra.conf"], HOST],
    [
      "then extra paths in order",
      { "/x2.conf": conf("5"), "/x3.conf": conf("6") },
      undefined,
      ["/x1.conf", "/x2.conf", "/x3.conf"],
      "/x2.conf",
    ],
    ["none: no flat file, no error", {}, "/nothing", ["/x1.conf"], undefined],
  ];
  for (const [name, files, configurationPath, extra, want] of rows) {
    await t.test(name, () => {
      const flat = loadFlatFile(fakeReadFile({ files }), configurationPath, extra);
      assert.equal(flat?.path, want);
      if (want !== undefined) assert.equal(flat?.ipam.gateway, JSON.parse(files[want]!).gateway);
    });
  }
});

test("loadFlatFile() accepts a configuration_path directory holding whereabouts.conf", () => {
  const readFile = fakeReadFile({
    dirs: ["/etc/cni/net.d/whereabouts.d/"],
    files: { [ETC_CNI!]: conf("10.0.0.1") },
  });
  const flat = loadFlatFile(readFile, "/etc/cni/net.d/whereabouts.d/");
  assert.equal(flat?.path, ETC_CNI);
  assert.deepEqual(readFile.reads, ["/etc/cni/net.d/whereabouts.d/", ETC_CNI]);
  // A directory without the file: keep searching.
  assert.equal(loadFlatFile(fakeReadFile({ dirs: ["/d"], files: { [HOST!]: conf("x") } }), "/d")?.path, HOST);
});

test("loadFlatFile() reports unreadable and malformed files with Go's texts, never their content", async (t) => {
  const rows: [string, Parameters<typeof fakeReadFile>[0], string | undefined, number, string | RegExp][] = [
    [
      "default path is a directory",
      { dirs: [ETC_K8S!] },
      undefined,
      7,
      `LoadIPAMConfig Flatfile (${ETC_K8S}) - io.ReadAll error: read ${ETC_K8S}: is a directory`,
    ],
    [
      "permission denied",
      { denied: ["/cfg.conf"] },
      "/cfg.conf",
      5,
      "error opening flat configuration file @ /cfg.conf with: permission denied",
    ],
    [
      "denied inside the directory",
      { dirs: ["/d"], denied: ["/d/whereabouts.conf"] },
      "/d",
      5,
      "error opening flat configuration file @ /d/whereabouts.conf with: permission denied",
    ],
    [
      "bad JSON",
      { files: { "/c.conf": '{"range": }' } },
      "/c.conf",
      6,
      "LoadIPAMConfig Flatfile (/c.conf) - JSON Parsing Error: invalid character looking for beginning of value at line 1, column 11",
    ],
    [
      "empty file",
      { files: { "/c.conf": "" } },
      "/c.conf",
      6,
      "LoadIPAMConfig Flatfile (/c.conf) - JSON Parsing Error: unexpected end of JSON input at line 1, column 1",
    ],
    [
      "not an object",
      { files: { "/c.conf": "[]" } },
      "/c.conf",
      7,
      "invalid flat file /c.conf: expected a JSON object, got an array",
    ],
    [
      "wrong type",
      { files: { "/c.conf": '{"kubernetes":{"kubeconfig":5}}' } },
      "/c.conf",
      7,
      "invalid kubernetes.kubeconfig (flat file /c.conf): expected a string, got number",
    ],
    [
      "a file that is not JSON (a password file): no character of it quoted",
      { files: { "/c.conf": "root:$6$salt$hash:19000:0:99999:7:::\n" } },
      "/c.conf",
      6,
      "LoadIPAMConfig Flatfile (/c.conf) - JSON Parsing Error: invalid character looking for beginning of value at line 1, column 1",
    ],
    [
      "a JSON string: not quoted",
      { files: { "/c.conf": '"s3cr3t-token"' } },
      "/c.conf",
      7,
      "invalid flat file /c.conf: expected a JSON object, got string",
    ],
  ];
  for (const [name, fs, configurationPath, code, msg] of rows) {
    await t.test(name, () =>
      assertCniError(() => loadFlatFile(fakeReadFile(fs), configurationPath), code, msg),
    );
  }
});
