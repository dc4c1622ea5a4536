import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { controllerOptions, defaultIdentity, parseDuration } from "../cli/controller.ts";
import { parseListen } from "../net/listen-address.ts";
import { inClusterConnection, liveConnection, microTime, wholeSeconds } from "./kube.ts";

describe("kube connection", () => {
  const files: Record<string, string> = {
    "/sa/token": "tok-1\n",
    "/sa/ca.crt": "PEM",
    "/sa/namespace": "whereabouts",
  };
  const read = (path: string) => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error(`open ${path}`), { code: "ENOENT" });
    return text;
  };

  it("builds the in-cluster connection from the ServiceAccount (IPv6 hosts bracketed)", () => {
    const env = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" };
    assert.deepEqual(inClusterConnection(env, read, "/sa"), {
      kubeconfig: "/sa (in-cluster)",
      server: "https://[fd00::1]:443",
      namespace: "whereabouts",
      tls: { ca: "PEM" },
      authorization: "Bearer tok-1",
    });
    assert.throws(() => inClusterConnection({}, read, "/sa"), /not running in a pod/);
  });

  it("re-reads credentials about every minute, keeping the last ones on failure", async () => {
    let clock = 0;
    let token = "a";
    let fail = false;
    const load = async () => {
      if (fail) throw new Error("unreadable");
      return {
        kubeconfig: "k",
        server: "https://s",
        namespace: "ns",
        tls: undefined,
        authorization: `Bearer ${token}`,
      };
    };
    const c = await liveConnection(load, () => clock);
    token = "b";
    assert.equal(c.authorization, "Bearer a");
    clock = 60_000;
    assert.equal(c.authorization, "Bearer a", "the refresh runs in the background");
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(c.authorization, "Bearer b");
    fail = true;
    clock = 120_000;
    void c.authorization;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(c.authorization, "Bearer b");
  });

  it("formats MicroTime with exactly six fractional digits, Time in whole seconds", () => {
    const d = new Date("2026-11-22T03:00:00.123Z");
    assert.equal(microTime(d), "2026-11-22T03:00:00.123000Z");
    assert.equal(wholeSeconds(d), "2026-11-22T03:00:00Z");
  });
});

describe("controller options", () => {
  it("parses durations and listen addresses", () => {
    assert.equal(parseDuration("x", "1500ms", 0), 1500);
    assert.equal(parseDuration("x", "15s", 0), 15_000);
    assert.equal(parseDuration("x", "2m", 0), 120_000);
    assert.equal(parseDuration("x", undefined, 7), 7);
    assert.throws(() => parseDuration("x", "15", 0), /invalid --x "15"/);
    assert.deepEqual(parseListen("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
    assert.deepEqual(parseListen(":8080"), { host: "0.0.0.0", port: 8080 });
    assert.deepEqual(parseListen("[::1]:9"), { host: "::1", port: 9 });
    assert.throws(() => parseListen("8080"), /invalid --listen/);
  });

  it("defaults to client-go's timings and checks their order", () => {
    const o = controllerOptions([]);
    assert.ok(o !== "help");
    assert.deepEqual(
      [o.leaseDurationMs, o.renewIntervalMs, o.renewDeadlineMs, o.retryIntervalMs, o.cronFile, o.listen],
      [15_000, 5_000, 10_000, 2_000, "/cron-schedule/config", "0.0.0.0:8080"],
    );
    assert.throws(() => controllerOptions(["--lease-duration", "5s"]), /--lease-duration must exceed/);
    assert.equal(controllerOptions(["--help"]), "help");
    assert.throws(() => controllerOptions(["--bogus"]));
  });

  it("keeps a re-slice's replaced slices out for the ADD deadline unless --reslice-grace says otherwise", () => {
    const o = controllerOptions([]);
    assert.ok(o !== "help");
    assert.equal(o.resliceGraceMs, 60_000);
    const set = controllerOptions(["--reslice-grace", "5s"]);
    assert.ok(set !== "help");
    assert.equal(set.resliceGraceMs, 5_000);
    assert.throws(() => controllerOptions(["--reslice-grace", "soon"]), /invalid --reslice-grace/);
  });

  it("keeps a sticky address 5 minutes after its owner is gone unless --sticky-release-after says otherwise", () => {
    const o = controllerOptions([]);
    assert.ok(o !== "help");
    assert.equal(o.stickyReleaseAfterMs, 300_000);
    const set = controllerOptions(["--sticky-release-after", "2m"]);
    assert.ok(set !== "help");
    assert.equal(set.stickyReleaseAfterMs, 120_000);
    assert.throws(
      () => controllerOptions(["--sticky-release-after", "500ms"]),
      /--sticky-release-after must be at least 1s/,
    );
    assert.throws(
      () => controllerOptions(["--sticky-release-after", "soon"]),
      /invalid --sticky-release-after "soon"/,
    );
  });

  it("names the Lease holder after the pod when the downward API tells", () => {
    assert.equal(defaultIdentity({ POD_NAME: "c-0", POD_NAMESPACE: "kube-system" }), "kube-system/c-0");
    assert.match(defaultIdentity({}), /_\d+_[0-9a-f]+$/);
  });
});
