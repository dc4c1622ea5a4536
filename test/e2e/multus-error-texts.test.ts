// The texts the meta-plugin gives when a delegate fails, against Multus v4's: an ADD failure is the
// delegate's own error after `[<ns>/<pod>/<uid>:<net>]: error adding container to network "<net>": `
// (Multus dropped the older `DelegateAdd: error invoking DelegateAdd - …: error in getting result
// from AddNetwork:` wrapping in v3.4.2); a DEL failure is each delegate's error wrapped as
// `DelegateDel: error invoking DelegateDel - "<type>": error in getting result from DelNetwork: …`,
// the wrapped errors joined with " / " after `errors: `. The failing delegate is a macvlan whose
// master does not exist (its ADD and its DEL both say "Link not found"). Root only.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ApiDouble } from "../k8s-api/harness.ts";
import { CNI_VERSION, requirePrerequisites } from "./netns-harness.ts";
import { describeModes, MultusLab, type MultusMode } from "./netns-multus.ts";
import { removeStaleRuns } from "./netns-runs.ts";
import { listNamespaces } from "./netns-shell.ts";

before(async () => {
  requirePrerequisites({ plugins: ["multus", "macvlan", "bridge", "host-local"] });
  await removeStaleRuns();
});

after(async () => {
  const ours = (await listNamespaces()).filter((n) => n.includes(`-${process.pid}-`));
  assert.deepEqual(ours, [], "every namespace this run created is gone");
});

async function labWithBadMaster(
  t: { after(fn: () => Promise<void>): void },
  api: ApiDouble,
  mode: MultusMode,
  name: string,
) {
  const m = await MultusLab.create(api, ["node-a"], { mode });
  t.after(() => m.dispose());
  await m.nad(name, { cniVersion: CNI_VERSION, type: "macvlan", master: "no-such-link" });
  return m;
}

const errorOf = (stdout: string) => JSON.parse(stdout) as { code: number; msg: string };

describeModes(({ mode, api }) => {
  test("ADD failing in a delegate: Multus v4's text, the delegate's error right after `error adding container to network`", async (t) => {
    const m = await labWithBadMaster(t, api(), mode, "bad-add");
    const p = await m.pod("node-a", "bad-add");
    const outcome = await m.call("ADD", p);
    assert.notEqual(outcome.code, 0);
    assert.equal(
      errorOf(outcome.stdout).msg,
      `[default/${p.pod.name}/${p.uid}:bad-add]: error adding container to network "bad-add": Link not found`,
    );
  });

  test('DEL failing in a delegate: Multus v4\'s text, `errors: DelegateDel: error invoking DelegateDel - "macvlan": …`', async (t) => {
    const m = await labWithBadMaster(t, api(), mode, "bad-del");
    const p = await m.pod("node-a", "bad-del");
    assert.notEqual((await m.call("ADD", p)).code, 0);
    const outcome = await m.call("DEL", p);
    assert.notEqual(outcome.code, 0);
    assert.equal(
      errorOf(outcome.stdout).msg,
      'errors: DelegateDel: error invoking DelegateDel - "macvlan": error in getting result from DelNetwork: Link not found',
    );
  });
});
