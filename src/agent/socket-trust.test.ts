import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { forwardedEnv } from "./protocol.ts";
import { admits, directoryProblem, parentOf, placeProblem, socketProblem } from "./socket-trust.ts";

const dir = (uid: number, mode: number) => ({
  uid,
  mode: 0o040000 | mode,
  isDirectory: () => true,
  isSocket: () => false,
});
const sock = (uid: number) => ({ uid, mode: 0o140600, isDirectory: () => false, isSocket: () => true });
const file = { uid: 0, mode: 0o100600, isDirectory: () => false, isSocket: () => false };

describe("who may stand behind the agent's socket", () => {
  it("a directory: root's or our own, writable by its owner only", () => {
    assert.equal(directoryProblem(dir(0, 0o700), 0), undefined);
    assert.equal(directoryProblem(dir(0, 0o755), 0), undefined);
    assert.equal(directoryProblem(dir(0, 0o750), 0), undefined);
    assert.equal(directoryProblem(dir(1000, 0o700), 1000), undefined, "a non-root agent's own");
    assert.equal(directoryProblem(dir(1000, 0o700), 0), "is owned by uid 1000, not root");
    assert.equal(directoryProblem(dir(0, 0o777), 0), "is writable by group or others (mode 0777)");
    assert.equal(
      directoryProblem(dir(0, 0o1777), 0),
      "is writable by group or others (mode 1777)",
      "sticky is not enough",
    );
    assert.equal(directoryProblem(dir(0, 0o770), 0), "is writable by group or others (mode 0770)");
    assert.equal(directoryProblem(file, 0), "is not a directory");
  });

  it("the directories above it: trusted owners, writable by others only when sticky", () => {
    const tree = (over: Record<string, ReturnType<typeof dir>>) => (path: string) =>
      over[path] ?? dir(0, 0o755);
    const sock = "/run/thereabouts";
    assert.equal(placeProblem(sock, tree({ [sock]: dir(0, 0o700) }), 0), undefined);
    assert.equal(
      placeProblem("/tmp/x/agent", tree({ "/tmp": dir(0, 0o1777), "/tmp/x/agent": dir(0, 0o700) }), 0),
      undefined,
      "a sticky /tmp above is fine",
    );
    assert.equal(
      placeProblem(sock, tree({ [sock]: dir(0, 0o777) }), 0),
      "is in /run/thereabouts, which is writable by group or others (mode 0777)",
    );
    assert.equal(
      placeProblem("/srv/open/agent", tree({ "/srv/open": dir(0, 0o777) }), 0),
      "is below /srv/open, which is writable by group or others and not sticky (mode 0777)",
    );
    assert.equal(
      placeProblem("/home/bob/agent", tree({ "/home/bob": dir(1000, 0o755) }), 0),
      "is below /home/bob, which is owned by uid 1000, not root",
    );
    assert.equal(placeProblem("/home/bob/agent", tree({ "/home/bob": dir(1000, 0o755) }), 1000), undefined);
    assert.equal(placeProblem("/", tree({ "/": dir(0, 0o755) }), 0), undefined);
  });

  it("a socket: a socket (not a symlink or file), root's or our own", () => {
    assert.equal(socketProblem(sock(0), 0), undefined);
    assert.equal(socketProblem(sock(1000), 1000), undefined);
    assert.equal(socketProblem(sock(1000), 0), "is owned by uid 1000, not root");
    assert.equal(socketProblem(file, 0), "is not a socket");
  });

  it("callers: root, the agent's own user, and the allowed group's members", () => {
    const policy = { euid: 0, group: undefined };
    assert.equal(admits({ uid: 0, gid: 0 }, policy), true);
    assert.equal(admits({ uid: 1000, gid: 1000 }, policy), false);
    assert.equal(admits({ uid: 1000, gid: 1000 }, { euid: 1000, group: undefined }), true);
    assert.equal(admits({ uid: 1000, gid: 2000 }, { euid: 0, group: 2000 }), true);
    assert.equal(admits({ uid: 1000, gid: 1000 }, { euid: 0, group: 2000 }), false);
  });

  it("parentOf", () => {
    assert.equal(parentOf("/run/thereabouts/agent.sock"), "/run/thereabouts");
    assert.equal(parentOf("/agent.sock"), "/");
  });
});

describe("forwardedEnv", () => {
  it("keeps the CNI_* variables and nothing else", () => {
    assert.deepEqual(
      forwardedEnv({
        CNI_COMMAND: "ADD",
        CNI_ARGS: "K8S_POD_NAME=p",
        CNI_PATH: "/opt/cni/bin",
        PATH: "/usr/bin",
        ETCD_PASSWORD: "hunter2",
        THEREABOUTS_AGENT_SOCKET: "/run/x.sock",
        cni_lower: "x",
        CNI_UNSET: undefined,
      }),
      { CNI_COMMAND: "ADD", CNI_ARGS: "K8S_POD_NAME=p", CNI_PATH: "/opt/cni/bin" },
    );
  });
});
