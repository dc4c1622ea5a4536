import assert from "node:assert/strict";
import { test } from "node:test";
import { parseRequest, readEnv } from "./request.ts";

type Env = Record<string, string | undefined>;

const ADD_ENV: Env = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "ctr-1",
  CNI_NETNS: "/var/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=p",
  CNI_PATH: "/opt/cni/bin",
};

const conf = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ cniVersion: "1.0.0", name: "net1", type: "thereabouts", ...extra });

const withEnv = (changes: Env): Env => ({ ...ADD_ENV, ...changes });

test("parseRequest() returns every field of a valid ADD", () => {
  const stdin = conf({ ipam: { range: "10.0.0.0/24" } });
  const req = parseRequest(ADD_ENV, stdin);
  assert.deepEqual(req, {
    command: "ADD",
    containerId: "ctr-1",
    netns: "/var/run/netns/x",
    ifName: "eth0",
    cniArgs: "IgnoreUnknown=1;K8S_POD_NAME=p",
    path: "/opt/cni/bin",
    config: JSON.parse(stdin),
    cniVersion: "1.0.0",
    networkName: "net1",
  });
});

test("parseRequest() lists missing variables per command (code 4)", () => {
  const cases: [Env, string][] = [
    [{}, "[CNI_COMMAND]"],
    [{ CNI_PATH: "/opt" }, "[CNI_COMMAND]"],
    [{ CNI_COMMAND: "ADD" }, "[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH]"],
    [{ CNI_COMMAND: "CHECK" }, "[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH]"],
    [{ CNI_COMMAND: "DEL" }, "[CNI_CONTAINERID,CNI_IFNAME,CNI_PATH]"],
    [{ CNI_COMMAND: "GC" }, "[CNI_PATH]"],
    [{ CNI_COMMAND: "STATUS" }, "[CNI_PATH]"],
    [withEnv({ CNI_NETNS: undefined }), "[CNI_NETNS]"],
    // An empty variable is a missing one.
    [withEnv({ CNI_PATH: "" }), "[CNI_PATH]"],
  ];
  for (const [env, list] of cases) {
    assert.throws(() => parseRequest(env, conf()), {
      code: 4,
      message: `required env variables ${list} missing`,
    });
  }
});

test("parseRequest() does not require CNI_NETNS for DEL", () => {
  const req = parseRequest(withEnv({ CNI_COMMAND: "DEL", CNI_NETNS: undefined }), conf());
  assert.equal(req.command, "DEL");
  assert.equal(req.netns, "");
});

test("parseRequest() lets GC and STATUS run without container, netns and ifname", () => {
  for (const command of ["GC", "STATUS"]) {
    const req = parseRequest({ CNI_COMMAND: command, CNI_PATH: "/opt" }, conf({ cniVersion: "1.1.0" }));
    assert.equal(req.command, command);
    assert.equal(req.containerId, "");
  }
  // Stray attachment variables are not checked for GC.
  const env = { CNI_COMMAND: "GC", CNI_PATH: "/opt", CNI_CONTAINERID: "-bad", CNI_IFNAME: "a/b" };
  assert.equal(parseRequest(env, conf({ cniVersion: "1.1.0" })).command, "GC");
});

test("parseRequest() checks the container id (code 4) before reporting missing variables", () => {
  assert.throws(() => parseRequest(withEnv({ CNI_CONTAINERID: "-x" }), conf()), {
    code: 4,
    message: "invalid characters in containerID",
    details: "-x",
  });
  assert.throws(() => readEnv({ CNI_COMMAND: "ADD", CNI_CONTAINERID: "a b" }), {
    code: 4,
    message: "invalid characters in containerID",
  });
});

test("parseRequest() checks the interface name for ADD, CHECK and DEL (code 4)", () => {
  for (const command of ["ADD", "CHECK", "DEL"]) {
    assert.throws(() => parseRequest(withEnv({ CNI_COMMAND: command, CNI_IFNAME: "x".repeat(16) }), conf()), {
      code: 4,
      message: "interface name is too long",
    });
  }
  assert.throws(() => parseRequest(withEnv({ CNI_IFNAME: ".." }), conf()), {
    code: 4,
    message: "interface name is . or ..",
  });
});

test("parseRequest() says what and where a syntax error is, never the text at it (code 6)", () => {
  const stdin = '{"cniVersion":"1.0.0","name":"n",\n "ipam":{"etcd_password": hunter2}}';
  assert.throws(() => parseRequest(ADD_ENV, stdin), {
    code: 6,
    message:
      "error unmarshall network config: invalid character looking for beginning of value at line 2, column 27",
  });
  assert.throws(() => parseRequest(ADD_ENV, '{"name": "a", "x": tru'), {
    code: 6,
    message: "error unmarshall network config: unexpected end of JSON input at line 1, column 23",
  });
});

test("parseRequest() decodes nesting deeper than the parser allows as a syntax error (code 6)", () => {
  const stdin = conf({ deep: JSON.parse(`${"[".repeat(1001)}${"]".repeat(1001)}`) });
  assert.throws(() => parseRequest(ADD_ENV, stdin), {
    code: 6,
    // The object around it is the first level: the 1000th "[" is one too many.
    message: `error unmarshall network config: exceeded max depth at line 1, column ${stdin.indexOf("[") + 1000}`,
  });
});

test("parseRequest() rejects stdin that is not a JSON object (code 6)", () => {
  for (const stdin of ["", "{", "not json", '{"name":"a"} trailing']) {
    assert.throws(
      () => parseRequest(ADD_ENV, stdin),
      (err: Error & { code?: number }) => {
        assert.equal(err.code, 6);
        assert.match(err.message, /^error unmarshall network config: ./);
        return true;
      },
    );
  }
  assert.throws(() => parseRequest(ADD_ENV, "[1]"), {
    code: 6,
    message: "error unmarshall network config: expected a JSON object, got array",
  });
  assert.throws(() => parseRequest(ADD_ENV, '"x"'), {
    code: 6,
    message: "error unmarshall network config: expected a JSON object, got string",
  });
  assert.throws(() => parseRequest(ADD_ENV, conf({ name: 5 })), {
    code: 6,
    message: 'error unmarshall network config: "name" must be a string, got number',
  });
});

test("parseRequest() needs a valid network name (code 7)", () => {
  assert.throws(() => parseRequest(ADD_ENV, JSON.stringify({ cniVersion: "1.0.0" })), {
    code: 7,
    message: "missing network name",
  });
  assert.throws(() => parseRequest(ADD_ENV, conf({ name: "" })), {
    code: 7,
    message: "missing network name",
  });
  // Go decodes null into an empty struct: the missing name is what fails.
  assert.throws(() => parseRequest(ADD_ENV, "null"), { code: 7, message: "missing network name" });
  assert.throws(() => parseRequest(ADD_ENV, conf({ name: "a/b" })), {
    code: 7,
    message: "invalid characters found in network name",
    details: "a/b",
  });
});

test("parseRequest() matches config keys case-insensitively, as the Go decoder does", () => {
  const req = parseRequest(ADD_ENV, JSON.stringify({ CNIVersion: "0.4.0", Name: "net2" }));
  assert.equal(req.networkName, "net2");
  assert.equal(req.cniVersion, "0.4.0");
});

test("parseRequest() lets no null hide a value, as the Go decoder does", () => {
  // Go's decoder treats null as "leave the field alone": neither another spelling nor a repeated
  // key written as null takes the name away.
  for (const stdin of [
    '{"cniVersion":"1.0.0","name":"net1","NAME":null}',
    '{"cniVersion":"1.0.0","name":"net1","name":null}',
    '{"CNIVERSION":"1.0.0","cniVersion":null,"Name":"net1"}',
  ]) {
    const req = parseRequest(ADD_ENV, stdin);
    assert.equal(req.networkName, "net1", stdin);
    assert.equal(req.cniVersion, "1.0.0", stdin);
  }
  // The decoded document every later reader gets keeps the value, too.
  assert.equal(parseRequest(ADD_ENV, '{"name":"net1","name":null}').config["name"], "net1");
});

test("parseRequest() rejects an unknown command after checking stdin (code 4)", () => {
  assert.throws(() => parseRequest(withEnv({ CNI_COMMAND: "FOO" }), conf()), {
    code: 4,
    message: "unknown CNI_COMMAND: FOO",
  });
  assert.throws(() => parseRequest(withEnv({ CNI_COMMAND: "add" }), conf()), {
    code: 4,
    message: "unknown CNI_COMMAND: add",
  });
  // As in the library, stdin is decoded first.
  assert.throws(() => parseRequest(withEnv({ CNI_COMMAND: "FOO" }), "garbage"), { code: 6 });
});

test("parseRequest() accepts every supported version and reads a missing one as 0.1.0", () => {
  for (const v of ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]) {
    assert.equal(parseRequest(ADD_ENV, conf({ cniVersion: v })).cniVersion, v);
  }
  assert.equal(parseRequest(ADD_ENV, JSON.stringify({ name: "n" })).cniVersion, "0.1.0");
  assert.equal(parseRequest(ADD_ENV, conf({ cniVersion: "" })).cniVersion, "0.1.0");
  assert.equal(parseRequest(ADD_ENV, conf({ cniVersion: null })).cniVersion, "0.1.0");
});

test("parseRequest() rejects unsupported versions (code 1) with the library's details", () => {
  for (const [command, v] of [
    ["ADD", "0.5.0"],
    ["DEL", "2.0.0"],
    ["ADD", "1.0"],
    ["ADD", "abc"],
    // Above CHECK's floor and below a supported version, so it is membership that fails.
    ["CHECK", "0.5.0"],
  ]) {
    const env = withEnv({ CNI_COMMAND: command });
    assert.throws(() => parseRequest(env, conf({ cniVersion: v })), {
      code: 1,
      message: "incompatible CNI versions",
      details: `config is "${v}", plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]`,
    });
  }
  assert.throws(() => parseRequest(ADD_ENV, conf({ cniVersion: 1 })), {
    code: 6,
    message: 'decoding version from network config: "cniVersion" must be a string, got number',
  });
});

test("parseRequest() gates CHECK at 0.4.0 and GC/STATUS at 1.1.0 (code 1)", () => {
  const gc = (command: string) => ({ CNI_COMMAND: command, CNI_PATH: "/opt" });
  const cases: [Env, string, string][] = [
    [withEnv({ CNI_COMMAND: "CHECK" }), "0.3.1", "config version does not allow CHECK"],
    [withEnv({ CNI_COMMAND: "CHECK" }), "", "config version does not allow CHECK"],
    [gc("GC"), "1.0.0", "config version does not allow GC"],
    [gc("STATUS"), "0.4.0", "config version does not allow STATUS"],
    [withEnv({ CNI_COMMAND: "CHECK" }), "2.0.0", "plugin version does not allow CHECK"],
    [gc("GC"), "1.2.0", "plugin version does not allow GC"],
    [gc("STATUS"), "3", "plugin version does not allow STATUS"],
  ];
  for (const [env, v, message] of cases) {
    assert.throws(
      () => parseRequest(env, conf({ cniVersion: v })),
      { code: 1, message, details: undefined },
      message,
    );
  }
  assert.equal(
    parseRequest(withEnv({ CNI_COMMAND: "CHECK" }), conf({ cniVersion: "0.4.0" })).command,
    "CHECK",
  );
  assert.equal(parseRequest(gc("STATUS"), conf({ cniVersion: "1.1.0" })).command, "STATUS");
  // The floor comparison needs a parsable version: code 6 otherwise, as in the library.
  assert.throws(() => parseRequest(withEnv({ CNI_COMMAND: "CHECK" }), conf({ cniVersion: "x" })), {
    code: 6,
  });
});

test("parseRequest() answers VERSION without looking at stdin or other variables", () => {
  for (const stdin of ["", "garbage", "[]", '{"cniVersion":"9.9.9"}']) {
    const req = parseRequest({ CNI_COMMAND: "VERSION", CNI_CONTAINERID: "-bad" }, stdin);
    assert.equal(req.command, "VERSION");
    assert.equal(req.cniVersion, "1.1.0");
    assert.deepEqual(req.config, {});
  }
});

test("readEnv() checks only the environment", () => {
  const env = readEnv({ CNI_COMMAND: "FOO" });
  assert.equal(env.command, "FOO");
  assert.throws(() => readEnv({ CNI_COMMAND: "DEL", CNI_PATH: "/opt" }), {
    code: 4,
    message: "required env variables [CNI_CONTAINERID,CNI_IFNAME] missing",
  });
});
