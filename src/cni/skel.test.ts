import assert from "node:assert/strict";
import { test } from "node:test";
import { aboutText } from "../about.ts";
import { CniError } from "../errors/errors.ts";
import { parseCidr, parseIP } from "../ip/index.ts";
import type { Request } from "./request.ts";
import type { IpamResult } from "./result.ts";
import { type Handlers, type PluginIO, runPlugin, toCniError } from "./skel.ts";

type Env = Record<string, string | undefined>;

const ADD_ENV: Env = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "ctr-1",
  CNI_NETNS: "/var/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
};
const conf = (cniVersion: string) => JSON.stringify({ cniVersion, name: "net1", type: "thereabouts" });
const RESULT: IpamResult = {
  ips: [{ address: parseCidr("10.0.0.5/24")!, gateway: parseIP("10.0.0.1")! }],
  routes: [],
  dns: {},
};
const VERSION_TEXT =
  '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n';

/** In-process run: `stdin` undefined means reading stdin is a test failure. */
async function run(env: Env, stdin: string | undefined, handlers: Partial<Handlers> = {}) {
  const out = { code: -1, stdout: "", stderr: "", stdinReads: 0, calls: [] as Request[] };
  const record = async (req: Request) => {
    out.calls.push(req);
  };
  const io: PluginIO = {
    env,
    readStdin: async () => {
      out.stdinReads++;
      if (stdin === undefined) throw new Error("stdin must not be read");
      return stdin;
    },
    stdout: (text) => {
      out.stdout += text;
    },
    stderr: (text) => {
      out.stderr += text;
    },
  };
  const all: Handlers = {
    add: async (req) => {
      out.calls.push(req);
      return RESULT;
    },
    del: record,
    check: record,
    gc: record,
    status: record,
    ...handlers,
  };
  out.code = await runPlugin(io, all);
  return out;
}

test("runPlugin() without CNI_COMMAND prints the about text on stderr and exits 0", async () => {
  const out = await run({}, undefined);
  assert.equal(out.code, 0);
  assert.equal(out.stdout, "");
  assert.equal(out.stderr, aboutText());
});

test("runPlugin() answers VERSION without reading stdin", async () => {
  const out = await run({ CNI_COMMAND: "VERSION" }, undefined);
  assert.deepEqual([out.code, out.stdout, out.stderr, out.stdinReads], [0, VERSION_TEXT, "", 0]);
});

test("runPlugin() answers VERSION whatever stdin and the other variables hold", async () => {
  const out = await run({ CNI_COMMAND: "VERSION", CNI_IFNAME: "a/b", CNI_CONTAINERID: "-" }, "garbage{");
  assert.deepEqual([out.code, out.stdout], [0, VERSION_TEXT]);
});

test("runPlugin() prints the ADD result in the config's version", async () => {
  const out = await run(ADD_ENV, conf("0.3.1"));
  assert.equal(out.code, 0);
  assert.equal(out.stderr, "");
  assert.equal(
    out.stdout,
    `{
    "cniVersion": "0.3.1",
    "ips": [
        {
            "version": "4",
            "address": "10.0.0.5/24",
            "gateway": "10.0.0.1"
        }
    ],
    "dns": {}
}`,
  );
  assert.equal(out.calls.length, 1);
  assert.equal(out.calls[0]!.containerId, "ctr-1");
  assert.equal(out.calls[0]!.cniVersion, "0.3.1");
});

test("runPlugin() prints nothing for successful DEL, CHECK, GC and STATUS", async () => {
  const cases: [Env, string][] = [
    [{ ...ADD_ENV, CNI_COMMAND: "DEL", CNI_NETNS: undefined }, "0.3.1"],
    [{ ...ADD_ENV, CNI_COMMAND: "CHECK" }, "0.4.0"],
    [{ CNI_COMMAND: "GC", CNI_PATH: "/opt" }, "1.1.0"],
    [{ CNI_COMMAND: "STATUS", CNI_PATH: "/opt" }, "1.1.0"],
  ];
  for (const [env, version] of cases) {
    const out = await run(env, conf(version));
    assert.deepEqual(
      [out.code, out.stdout, out.stderr, out.calls.length],
      [0, "", "", 1],
      env["CNI_COMMAND"],
    );
    assert.equal(out.calls[0]!.command, env["CNI_COMMAND"]);
  }
});

test("runPlugin() reports an environment error without reading stdin", async () => {
  const out = await run({ CNI_COMMAND: "ADD", CNI_PATH: "/opt" }, undefined);
  assert.equal(out.code, 1);
  assert.equal(out.stdinReads, 0);
  assert.equal(
    out.stdout,
    '{\n    "code": 4,\n    "msg": "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME] missing"\n}',
  );
  assert.equal(
    out.stderr,
    "CNI ADD failed (code 4): required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME] missing\n",
  );
});

test("runPlugin() gates versions before any handler runs", async () => {
  const check = await run({ ...ADD_ENV, CNI_COMMAND: "CHECK" }, conf("0.3.1"));
  assert.equal(check.code, 1);
  assert.equal(check.calls.length, 0);
  assert.equal(check.stdout, '{\n    "code": 1,\n    "msg": "config version does not allow CHECK"\n}');
  const add = await run(ADD_ENV, conf("0.5.0"));
  assert.deepEqual(JSON.parse(add.stdout), {
    code: 1,
    msg: "incompatible CNI versions",
    details: 'config is "0.5.0", plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]',
  });
});

test("runPlugin() reports a bad config (code 6) and an unknown command (code 4)", async () => {
  const bad = await run(ADD_ENV, "not json");
  assert.equal(bad.code, 1);
  assert.equal(JSON.parse(bad.stdout).code, 6);
  const unknown = await run({ ...ADD_ENV, CNI_COMMAND: "GET" }, conf("1.0.0"));
  assert.deepEqual(JSON.parse(unknown.stdout), { code: 4, msg: "unknown CNI_COMMAND: GET" });
});

test("runPlugin() passes a handler's CniError through with its code and details", async () => {
  const out = await run(ADD_ENV, conf("1.0.0"), {
    add: async () => {
      throw new CniError(100, "Could not allocate IP in range", "range 10.0.0.0/30 is full");
    },
  });
  assert.equal(out.code, 1);
  assert.equal(
    out.stdout,
    '{\n    "code": 100,\n    "msg": "Could not allocate IP in range",\n    "details": "range 10.0.0.0/30 is full"\n}',
  );
  assert.equal(
    out.stderr,
    "CNI ADD failed (code 100): Could not allocate IP in range: range 10.0.0.0/30 is full\n",
  );
});

test("runPlugin() reports any other failure as code 999 without a stack trace", async () => {
  const out = await run({ ...ADD_ENV, CNI_COMMAND: "DEL" }, conf("1.0.0"), {
    del: async () => {
      throw new TypeError("boom\nsecond line");
    },
  });
  assert.equal(out.code, 1);
  assert.deepEqual(JSON.parse(out.stdout), { code: 999, msg: "boom\nsecond line" });
  assert.doesNotMatch(out.stdout, /at .*\.ts/);
  assert.equal(out.stderr, "CNI DEL failed (code 999): boom\\nsecond line\n");
  const thrown = await run(ADD_ENV, conf("1.0.0"), {
    add: () => Promise.reject("plain string"),
  });
  assert.deepEqual(JSON.parse(thrown.stdout), { code: 999, msg: "plain string" });
});

test("runPlugin() bounds the error JSON and the stderr line, and keeps the line one line", async () => {
  const huge = `first\n${"10.0.0.1 ".repeat(100_000)}`;
  const out = await run(ADD_ENV, conf("1.0.0"), {
    add: async () => {
      throw new CniError(100, huge, huge);
    },
  });
  assert.equal(out.code, 1);
  const error = JSON.parse(out.stdout) as { code: number; msg: string; details: string };
  assert.equal(error.code, 100);
  assert.equal(error.msg.length, 4096);
  assert.equal(error.details.length, 4096);
  assert.ok(error.msg.startsWith("first\n10.0.0.1 ") && error.msg.endsWith("…"), error.msg.slice(0, 40));
  assert.ok(out.stdout.length < 8400, `${out.stdout.length} bytes of error JSON`);
  assert.equal(out.stderr.split("\n").length, 2, "one line and its newline");
  assert.ok(out.stderr.length <= 4097, `${out.stderr.length} bytes on stderr`);
  assert.match(out.stderr, /^CNI ADD failed \(code 100\): first\\n10\.0\.0\.1 /);
});

test("runPlugin() reports a result the config's version cannot express (code 7)", async () => {
  const out = await run(ADD_ENV, conf("0.2.0"), { add: async () => ({ ips: [], routes: [], dns: {} }) });
  assert.equal(out.code, 1);
  assert.deepEqual(JSON.parse(out.stdout), { code: 7, msg: "cannot convert: no valid IP addresses" });
});

test("runPlugin() reports a stdin read failure as code 5", async () => {
  const out = await run(ADD_ENV, undefined);
  assert.equal(out.code, 1);
  assert.deepEqual(JSON.parse(out.stdout), {
    code: 5,
    msg: "error reading from stdin: stdin must not be read",
  });
});

test("runPlugin() still exits 1 when stdout itself fails", async () => {
  const io: PluginIO = {
    env: ADD_ENV,
    readStdin: async () => conf("1.0.0"),
    stdout: () => {
      throw new Error("EPIPE");
    },
    stderr: () => {},
  };
  const handlers = { add: async () => RESULT } as unknown as Handlers;
  assert.equal(await runPlugin(io, handlers), 1);
});

test("toCniError() keeps CniErrors and wraps everything else as 999", () => {
  const own = new CniError(7, "bad");
  assert.equal(toCniError(own), own);
  const wrapped = toCniError(new Error("x"));
  assert.deepEqual([wrapped.code, wrapped.message, wrapped.details], [999, "x", undefined]);
  assert.equal(toCniError(undefined).message, "undefined");
});
