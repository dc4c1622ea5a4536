// What the cluster around the plugin does in the Kubernetes tests and the benchmark: the ipam
// section a NetworkAttachmentDefinition carries for the Kubernetes datastore, pods spread over
// nodes, a kubelet that repeats a failed DEL until it succeeds, and an API server that fails a
// given share of requests (the double's fault rules).
import assert from "node:assert/strict";
import type { PluginOutcome } from "../../src/cli/exec-plugin.ts";
import { CNI_CODES } from "../../src/errors/errors.ts";
import type { FaultRule } from "../k8s-api/faults.ts";
import type { Holding } from "../support/invariants.ts";
import { type AddCall, addressesOf, assertCleanOutcome, del } from "../support/plugin.ts";

/** The ipam section for the Kubernetes datastore (type defaults to "thereabouts"). */
export function kubeIpam(kubeconfig: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: "thereabouts", datastore: "kubernetes", kubernetes: { kubeconfig }, ...extra };
}

/** `pods` attachments of `config`, pod-<i> in namespace default, spread over `nodes` (NODENAME). */
export function podAttachments(config: string, pods: number, nodes: number, prefix = "pod"): AddCall[] {
  return Array.from({ length: pods }, (_, i) => ({
    config,
    pod: `${prefix}-${i}`,
    containerId: `${prefix}${i.toString(16).padStart(6, "0")}`,
    env: { NODENAME: `node-${i % nodes}` },
  }));
}

/** What the successful ADDs reported (first address of each), as (address, `<namespace>/<pod>`). */
export function reportedHoldings(
  calls: readonly AddCall[],
  outcomes: readonly PluginOutcome[],
  namespace = "default",
): Holding[] {
  return outcomes.flatMap((o, i) =>
    o.code === 0
      ? [{ address: addressesOf(o)[0]!.split("/")[0]!, podRef: `${namespace}/${calls[i]!.pod}` }]
      : [],
  );
}

export function cniError(o: PluginOutcome): { code: number; msg: string; details?: string } {
  assert.notEqual(o.code, 0, "a failed call");
  return JSON.parse(o.stdout) as { code: number; msg: string; details?: string };
}

/** CNI codes that tell the runtime "try again": the store could not be reached or kept conflicting. */
export const RETRYABLE_CODES: ReadonlySet<number> = new Set([CNI_CODES.tryAgainLater, CNI_CODES.unavailable]);

/**
 * DEL as kubelet does it: repeated until it succeeds. Every failure must be clean and carry a
 * retryable code (a non-retryable one fails the assertion: kubelet would retry it forever).
 */
export async function delUntilDone(
  call: AddCall,
  options: { attempts?: number; pauseMs?: number } = {},
): Promise<{ tries: number; failures: readonly PluginOutcome[] }> {
  const failures: PluginOutcome[] = [];
  const attempts = options.attempts ?? 20;
  for (let tries = 1; tries <= attempts; tries++) {
    const o = await del(call);
    assertCleanOutcome(o, `DEL ${call.pod} (try ${tries})`);
    if (o.code === 0) return { tries, failures };
    const code = cniError(o).code;
    assert.ok(RETRYABLE_CODES.has(code), `DEL ${call.pod} failed with a retryable code, not ${o.stdout}`);
    failures.push(o);
    await new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 50));
  }
  assert.fail(`DEL ${call.pod} still failing after ${attempts} tries: ${failures.at(-1)?.stdout}`);
}

const WHEREABOUTS = ["ippools", "overlappingrangeipreservations"];

/**
 * Fault rules under which `rate` of the whereabouts API requests fail (0.2: one in five), split
 * over conflicts (for the verbs that can conflict), 500, 503, 504, dropped connections after
 * `holdMs`, and — for writes — failures after the write committed ("did my update land?"). Rules
 * are tried in order and each rolls its own dice, so each probability is conditioned on the
 * earlier ones not firing; the shares below are of the total, per group of verbs.
 */
export function faultMix(rate: number, holdMs = 1000): FaultRule[] {
  const rules: FaultRule[] = [];
  const group = (verb: readonly string[], shares: readonly [FaultRule, number][]) => {
    let used = 0;
    for (const [rule, share] of shares) {
      rules.push({ verb, ...rule, resource: WHEREABOUTS, probability: (share * rate) / (1 - used) });
      used += share * rate;
    }
  };
  const failures = (after: number): [FaultRule, number][] => [
    [{ kind: "internalError" }, 0.3 - after / 2],
    [{ kind: "serviceUnavailable" }, 0.3 - after / 2],
    [{ kind: "gatewayTimeout" }, 0.2],
    [{ kind: "timeout", holdMs }, 0.2],
  ];
  const landed: [FaultRule, number][] = [
    [{ kind: "internalError", after: true }, 0.15],
    [{ kind: "timeout", holdMs, after: true }, 0.1],
  ];
  group(["get", "list"], failures(0));
  group(["create"], [...failures(0.25), ...landed]);
  group(
    ["update", "patch", "delete", "deletecollection"],
    [
      // deletecollection never answers 409 on a real apiserver
      [{ kind: "conflict", verb: ["update", "patch", "delete"] }, 0.25],
      ...failures(0.25).map(([r, s]): [FaultRule, number] => [r, (s * 2) / 3]),
      ...landed,
    ],
  );
  return rules;
}
