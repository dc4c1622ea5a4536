// The agent's socket as a root trust boundary, tried as the runtime and an unprivileged local user
// would: bin/thereabouts agent and plugin processes, a second user created for the test (root only).
// Checked: the socket's directory and socket modes whatever the umask; an unsafe existing directory
// refused; callers other than root (or an allowed group) answered 403 by the peer check; an
// impostor's socket never used by the plugin; only CNI_* variables forwarded; a busy agent's socket
// never taken over, and nothing but a dead agent's socket removed.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { agentHealth } from "../../src/agent/client.ts";
import { execPlugin, type PluginOutcome } from "../../src/cli/exec-plugin.ts";
import { agentMetrics, createLocalUser, type LocalUser, startAgentProcess } from "../support/agent.ts";
import {
  type AddCall,
  add,
  addressesOf,
  BINARY,
  del,
  localNetConf,
  podArgs,
  ROOT,
  type TempDir,
  tempDir,
} from "../support/plugin.ts";

const mode = (path: string) => statSync(path).mode & 0o7777;

describe("node agent socket: trust boundary (processes, a second local user)", () => {
  let dir: TempDir;
  let user: LocalUser;
  before(() => {
    assert.equal(
      process.getuid?.(),
      0,
      "these tests run as root: they create a local user and change owners",
    );
    dir = tempDir();
    chmodSync(dir.path, 0o755); // the test user must reach what the tests make reachable
    user = createLocalUser();
  });
  after(() => {
    user.remove();
    dir.remove();
  });

  /** The plugin run as the test user (its own group only), as a runtime that is not root would. */
  function addAsUser(c: AddCall): Promise<PluginOutcome> {
    const [file, ...args] = user.runAs;
    return execPlugin(
      { file: file!, args: [...args, BINARY.file] },
      {
        command: "ADD",
        config: c.config,
        containerId: c.containerId,
        ifName: "eth0",
        netns: `/var/run/netns/${c.pod}`,
        cniArgs: podArgs(c.pod),
        env: c.env ?? {},
      },
    );
  }

  /** A directory the test user owns, for the store it writes when it works alone. */
  function userDir(name: string): string {
    const path = join(dir.path, name);
    mkdirSync(path, { mode: 0o700 });
    chownSync(path, user.uid, user.gid);
    return path;
  }

  it("under umask 000 the agent creates its directory 0700 and its socket 0600 (0750/0660 of the allowed group)", async () => {
    const socket = join(dir.path, "umask", "run", "agent.sock");
    const agent = await startAgentProcess(socket, [], { umask: 0 });
    try {
      assert.equal(mode(join(dir.path, "umask", "run")), 0o700);
      assert.equal(mode(socket), 0o600);
      assert.equal(statSync(socket).uid, 0);
      assert.equal(await agentHealth(socket), "ok");
    } finally {
      await agent.stop();
    }
    assert.equal(existsSync(socket), false, "removed at exit");
    const grouped = join(dir.path, "umask-group", "agent.sock");
    const withGroup = await startAgentProcess(grouped, ["--allow-group", String(user.gid)], { umask: 0 });
    try {
      const d = statSync(join(dir.path, "umask-group"));
      assert.deepEqual([d.mode & 0o7777, d.uid, d.gid], [0o750, 0, user.gid]);
      const s = statSync(grouped);
      assert.deepEqual([s.mode & 0o7777, s.uid, s.gid], [0o660, 0, user.gid]);
    } finally {
      await withGroup.stop();
    }
  });

  it("refuses to start in an existing directory others can write to or another user owns, and changes nothing there", async () => {
    const cases: { name: string; mode: number; owner?: number; below?: boolean; message: RegExp }[] = [
      { name: "world-writable", mode: 0o777, message: /writable by group or others \(mode 0777\)/ },
      { name: "sticky", mode: 0o1777, message: /writable by group or others \(mode 1777\)/ },
      { name: "group-writable", mode: 0o770, message: /writable by group or others \(mode 0770\)/ },
      {
        name: "user-owned",
        mode: 0o700,
        owner: user.uid,
        message: new RegExp(`owned by uid ${user.uid}, not root`),
      },
      {
        name: "below-open",
        mode: 0o777,
        below: true,
        message:
          /is below .*unsafe-below-open, which is writable by group or others and not sticky \(mode 0777\)/,
      },
    ];
    for (const c of cases) {
      const path = join(dir.path, `unsafe-${c.name}`);
      mkdirSync(path);
      chmodSync(path, c.mode);
      if (c.owner !== undefined) chownSync(path, c.owner, c.owner);
      // below: the socket's own directory is safe, the one above it is not (it could be swapped).
      const socketDir = c.below === true ? join(path, "safe") : path;
      if (c.below === true) mkdirSync(socketDir, { mode: 0o700 });
      const socket = join(socketDir, "agent.sock");
      await assert.rejects(startAgentProcess(socket), c.message, c.name);
      assert.equal(existsSync(socket), false, `${c.name}: no socket made`);
      assert.equal(mode(path), c.mode, `${c.name}: mode untouched`);
    }
  });

  it("answers 403 to a caller that is not root, whose plugin then works alone; serves it with --allow-group", async () => {
    const agent = await startAgentProcess(join(dir.path, "peer", "agent.sock"));
    try {
      // Made reachable on purpose (the agent's own modes keep other users out before they connect):
      // the peer check must refuse the caller by itself.
      chmodSync(join(dir.path, "peer"), 0o711);
      chmodSync(agent.socket, 0o666);
      const own = userDir("peer-store");
      const store = join(own, "store.db");
      const call: AddCall = {
        config: localNetConf(store, "198.18.70.0/28"),
        pod: "p",
        containerId: "ctr-peer",
        env: agent.env,
      };
      const alone = await addAsUser(call);
      assert.equal(alone.code, 0, `${alone.stdout} ${alone.stderr}`);
      assert.deepEqual(addressesOf(alone), ["198.18.70.1/28"]);
      assert.match(
        alone.stderr,
        /node agent at .* did not answer \(the agent does not serve this user \(HTTP 403\)\); working without it/,
      );
      const metrics = await agentMetrics(agent.socket);
      assert.match(metrics, /thereabouts_agent_rejected_connections_total\{reason="peer"\} 1\n/);
      assert.doesNotMatch(
        metrics,
        /thereabouts_agent_calls_total\{/,
        "the refused caller's call was never run",
      );
    } finally {
      await agent.stop();
    }

    const grouped = await startAgentProcess(join(dir.path, "peer-group", "agent.sock"), [
      "--allow-group",
      user.name,
    ]);
    try {
      const call: AddCall = {
        config: localNetConf(join(dir.path, "peer-group.db"), "198.18.71.0/28"),
        pod: "p",
        containerId: "ctr-group",
        env: grouped.env,
      };
      const served = await addAsUser(call);
      assert.equal(served.code, 0, `${served.stdout} ${served.stderr}`);
      assert.deepEqual(addressesOf(served), ["198.18.71.1/28"]);
      assert.doesNotMatch(served.stderr, /working without it/);
      const metrics = await agentMetrics(grouped.socket);
      assert.match(metrics, /thereabouts_agent_calls_total\{command="ADD",store="local",result="ok"\} 1\n/);
      assert.match(metrics, /thereabouts_agent_rejected_connections_total\{reason="peer"\} 0\n/);
    } finally {
      await grouped.stop();
    }
    await assert.rejects(
      startAgentProcess(join(dir.path, "no-group", "agent.sock"), ["--allow-group", "no-such-group-x"]),
      /--allow-group "no-such-group-x": no such group/,
    );
  });

  it("the plugin never talks to an impostor's socket or a socket in a directory others can write: it works alone and returns its own address", async () => {
    // The attack of the issue: a socket directory others can write to, a user who put a listener
    // of their own at the socket's name, answering with an address another pod holds.
    const open = join(dir.path, "impostor");
    mkdirSync(open);
    chmodSync(open, 0o777);
    const record = join(open, "received");
    writeFileSync(record, "");
    chownSync(record, user.uid, user.gid);
    const socket = join(open, "agent.sock");
    const impostor = await startImpostor(user, socket, record);
    const root = await startRecorder(join(open, "root.sock"));
    try {
      assert.equal(statSync(socket).uid, user.uid);
      const store = join(dir.path, "impostor.db");
      const call = (env: Record<string, string>, pod: string): AddCall => ({
        config: localNetConf(store, "198.18.72.0/28"),
        pod,
        containerId: `ctr-${pod}`,
        env: { ...env, ETCD_PASSWORD: "hunter2" },
      });
      const first = await add(call({ THEREABOUTS_AGENT_SOCKET: socket }, "a"));
      assert.equal(first.code, 0, first.stdout);
      assert.deepEqual(
        addressesOf(first),
        ["198.18.72.1/28"],
        "its own allocation, not the forged 198.18.72.9",
      );
      assert.equal(
        first.stderr.split("\n")[0],
        `thereabouts: node agent socket ${socket} is owned by uid ${user.uid}, not root; working without it`,
      );
      // Even root's own socket is not used from a directory anybody could have swapped it in.
      const second = await add(call({ THEREABOUTS_AGENT_SOCKET: root.socket }, "b"));
      assert.equal(second.code, 0, second.stdout);
      assert.deepEqual(addressesOf(second), ["198.18.72.2/28"]);
      assert.match(
        second.stderr,
        /is in .*impostor, which is writable by group or others \(mode 0777\); working without it/,
      );
      const conf = join(open, "net.conf");
      writeFileSync(conf, call({}, "c").config);
      assert.match(
        statusAs([], conf, { THEREABOUTS_AGENT_SOCKET: socket }),
        new RegExp(
          `node agent: not trusted: ${socket} is owned by uid ${user.uid}, not root \\(plugins work alone\\)\n$`,
        ),
      );
      assert.equal(readFileSync(record, "utf8"), "", "the impostor received nothing, not even a connection");
      assert.equal(root.received.length, 0);
    } finally {
      impostor.kill("SIGKILL");
      await root.close();
    }
  });

  it("forwards only the CNI_* variables: nothing else of the runtime's environment reaches the socket", async () => {
    const recorder = await startRecorder(join(dir.path, "recorder.sock"));
    try {
      const outcome = await del({
        config: localNetConf(join(dir.path, "recorder.db"), "198.18.73.0/28"),
        pod: "p",
        containerId: "ctr-env",
        env: {
          THEREABOUTS_AGENT_SOCKET: recorder.socket,
          ETCD_PASSWORD: "marker-hunter2",
          HTTPS_PROXY: "http://x",
        },
      });
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.equal(recorder.received.length, 1, "the plugin handed its call to the (root-owned) socket");
      const raw = recorder.received[0]!;
      assert.doesNotMatch(raw, /marker-hunter2|HTTPS_PROXY|"PATH"|THEREABOUTS_AGENT_SOCKET/);
      const body = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as { env: Record<string, string> };
      assert.deepEqual(Object.keys(body.env).sort(), [
        "CNI_ARGS",
        "CNI_COMMAND",
        "CNI_CONTAINERID",
        "CNI_IFNAME",
        "CNI_NETNS",
        "CNI_PATH",
      ]);
      assert.equal(body.env["CNI_COMMAND"], "DEL");
    } finally {
      await recorder.close();
    }
  });

  it("a second agent never takes over a live agent's socket, not even while that agent is stopped (SIGSTOP)", async () => {
    const agent = await startAgentProcess();
    try {
      const before = statSync(agent.socket).ino;
      agent.child.kill("SIGSTOP");
      try {
        await assert.rejects(
          startAgentProcess(agent.socket),
          /another agent is serving .* \(it accepts connections\)/,
        );
      } finally {
        agent.child.kill("SIGCONT");
      }
      assert.equal(statSync(agent.socket).ino, before, "the socket is still the first agent's");
      assert.equal(await agentHealth(agent.socket), "ok", "the first agent still serves");
      const c: AddCall = {
        config: localNetConf(join(dir.path, "stopped.db"), "198.18.74.0/28"),
        pod: "p",
        containerId: "c",
        env: agent.env,
      };
      const o = await add(c);
      assert.equal(o.code, 0, o.stdout);
      assert.doesNotMatch(o.stderr, /working without it/);
    } finally {
      await agent.stop();
    }
  });

  it("a file at --socket that is not a socket is refused and left alone; the plugin works alone past it", async () => {
    const path = join(dir.path, "not-a-socket");
    mkdirSync(path, { mode: 0o700 });
    const file = join(path, "agent.sock");
    writeFileSync(file, "precious");
    await assert.rejects(startAgentProcess(file), /exists and is not a socket; it is left alone/);
    assert.equal(readFileSync(file, "utf8"), "precious");
    const c: AddCall = {
      config: localNetConf(join(dir.path, "worked-around.db"), "198.18.75.0/28"),
      pod: "p",
      containerId: "c",
      env: { THEREABOUTS_AGENT_SOCKET: file },
    };
    const o = await add(c);
    assert.equal(o.code, 0, o.stdout);
    assert.match(o.stderr, /node agent socket .* is not a socket; working without it/);
    assert.equal((await del(c)).code, 0);
  });

  it("refuses to run outside the executable (plain Node has no peer check) and makes no socket", () => {
    const socket = join(dir.path, "under-node", "agent.sock");
    const o = spawnSync(process.execPath, [join(ROOT, "src", "main.ts"), "agent", "--socket", socket], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(o.status, 1);
    assert.match(o.stderr, /the node agent runs only as the thereabouts executable: it needs bun:ffi/);
    assert.equal(existsSync(socket), false);
  });
});

/** What `thereabouts status` prints, run through `prefix` (e.g. as another user). */
function statusAs(prefix: readonly string[], config: string, env: Record<string, string>): string {
  const argv = [...prefix, BINARY.file, "status", "--config", config];
  const o = spawnSync(argv[0]!, argv.slice(1), {
    env: { PATH: process.env["PATH"], ...env },
    encoding: "utf8",
  });
  assert.equal(o.status, 0, o.stderr);
  return o.stdout;
}

/**
 * A listener run as `user` at `socket` that records every connection and byte it gets in `record`
 * and answers as if it were the agent, with a forged address.
 */
async function startImpostor(user: LocalUser, socket: string, record: string): Promise<ChildProcess> {
  const forged = JSON.stringify({
    code: 0,
    stdout: JSON.stringify({ cniVersion: "0.3.1", ips: [{ version: "4", address: "198.18.72.9/28" }] }),
    stderr: "",
  });
  const script = `
    const net = require("node:net"), fs = require("node:fs");
    const [socket, record, forged] = process.argv.slice(1);
    net.createServer((c) => {
      fs.appendFileSync(record, "connection\\n");
      c.on("data", (d) => fs.appendFileSync(record, d));
      c.end("HTTP/1.1 200 OK\\r\\nContent-Length: " + Buffer.byteLength(forged) + "\\r\\nConnection: close\\r\\n\\r\\n" + forged);
    }).listen(socket, () => { fs.chmodSync(socket, 0o777); process.stdout.write("listening\\n"); });`;
  const [file, ...args] = user.runAs;
  const child = spawn(file!, [...args, process.execPath, "-e", script, socket, record, forged], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`impostor exited (${code})`)));
  });
  return child;
}

/** A socket of this (root) process that records each request and answers like an agent: code 0. */
async function startRecorder(
  socket: string,
): Promise<{ socket: string; received: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const answer = JSON.stringify({ code: 0, stdout: "", stderr: "" });
  const server = createServer((c) => {
    let text = "";
    c.on("data", (d: Buffer) => {
      text += d.toString("utf8");
      const end = text.indexOf("\r\n\r\n");
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
      if (end >= 0 && Buffer.byteLength(text) >= end + 4 + length) {
        received.push(text);
        c.end(`HTTP/1.1 200 OK\r\nContent-Length: ${answer.length}\r\nConnection: close\r\n\r\n${answer}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { socket, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
