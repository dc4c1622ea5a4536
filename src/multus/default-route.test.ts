import assert from "node:assert/strict";
import { test } from "node:test";
import { planAttachments } from "./attachments.ts";
import { touchesDefaultRoutes, withDefaultRoutes } from "./default-route.ts";
import type { DelegateConf } from "./delegate.ts";
import type { NetworkSelection } from "./selection.ts";

const delegate = { confName: "n", config: {} } as unknown as DelegateConf;
const selection = (defaultRoute?: string[]) =>
  ({ name: "n", namespace: "default", defaultRoute }) as unknown as NetworkSelection;
const routes = [
  { dst: "0.0.0.0/0", gw: "10.0.0.1" },
  { dst: "::/0", gw: "fd00::1" },
  { dst: "10.1.0.0/16", gw: "10.0.0.1" },
];

test("withDefaultRoutes: the master loses its default routes, the requesting attachment gains its gateway", () => {
  const [master, net1] = planAttachments(
    [
      { delegate, displayName: "m" },
      { delegate, displayName: "n", selection: selection(["192.168.80.1"]) },
    ],
    "eth0",
  );
  assert.deepEqual(withDefaultRoutes({ cniVersion: "1.0.0", routes }, master!).routes, [routes[2]]);
  assert.deepEqual(withDefaultRoutes({ cniVersion: "1.0.0", routes }, net1!).routes, [
    routes[0],
    routes[2],
    { dst: "0.0.0.0/0", gw: "192.168.80.1" },
  ]);
  assert.ok(touchesDefaultRoutes(master!) && touchesDefaultRoutes(net1!));
});

test("withDefaultRoutes: an empty default-route filters every attachment; none asked touches none", () => {
  const [master, net1] = planAttachments(
    [
      { delegate, displayName: "m" },
      { delegate, displayName: "n", selection: selection([]) },
    ],
    "eth0",
  );
  assert.deepEqual(withDefaultRoutes({ routes }, net1!).routes, [routes[2]]);
  assert.ok(touchesDefaultRoutes(master!));
  const [plain] = planAttachments([{ delegate, displayName: "m" }], "eth0");
  assert.equal(touchesDefaultRoutes(plain!), false);
});
