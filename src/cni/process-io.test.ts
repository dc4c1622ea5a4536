// Runs the dispatcher in a real child process: exit codes, flushed output and stdin handling are
// properties of the process boundary that the in-process tests cannot see.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { aboutText } from "../about.ts";

const here = new URL(".", import.meta.url).pathname;

const CHILD = `
import { processIO } from ${JSON.stringify(`${here}process-io.ts`)};
import { runPlugin } from ${JSON.stringify(`${here}skel.ts`)};
import { parseCidr } from ${JSON.stringify(`${here}../ip/index.ts`)};
const ok = async () => {};
const handlers = {
  add: async () => ({ ips: [{ address: parseCidr("10.0.0.5/24") }], routes: [], dns: {} }),
  del: ok, check: ok, gc: ok,
  status: async () => { throw new Error("store down"); },
};
process.exitCode = await runPlugin(processIO(), handlers);
`;

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the child; `stdin` undefined leaves stdin open (never ended). */
function runChild(env: Record<string, string>, stdin: string | undefined): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
      env: { PATH: process.env["PATH"] ?? "", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`child did not exit; stderr: ${stderr}`));
    }, 10_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, stdout, stderr });
    });
    if (stdin !== undefined) child.stdin.end(stdin);
  });
}

const ADD_ENV = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "ctr-1",
  CNI_NETNS: "/var/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
};

test("processIO() VERSION exits 0 with the answer while stdin is still open", async () => {
  const out = await runChild({ CNI_COMMAND: "VERSION" }, undefined);
  assert.equal(out.code, 0);
  assert.equal(
    out.stdout,
    '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n',
  );
});

test("processIO() ADD reads stdin to its end and prints the result", async () => {
  const out = await runChild(ADD_ENV, JSON.stringify({ cniVersion: "1.0.0", name: "net1" }));
  assert.equal(out.code, 0);
  assert.deepEqual(JSON.parse(out.stdout), {
    cniVersion: "1.0.0",
    ips: [{ address: "10.0.0.5/24" }],
    dns: {},
  });
});

test("processIO() failure exits 1 with the error JSON on stdout and a log line on stderr", async () => {
  const out = await runChild(
    { CNI_COMMAND: "STATUS", CNI_PATH: "/opt" },
    '{"cniVersion":"1.1.0","name":"n"}',
  );
  assert.equal(out.code, 1);
  assert.equal(out.stdout, '{\n    "code": 999,\n    "msg": "store down"\n}');
  assert.equal(out.stderr, "CNI STATUS failed (code 999): store down\n");
});

test("processIO() without CNI_COMMAND prints the about text and exits 0", async () => {
  const out = await runChild({}, undefined);
  assert.equal(out.code, 0);
  assert.equal(out.stdout, "");
  assert.equal(out.stderr, aboutText());
});
