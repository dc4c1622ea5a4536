// A writer that behaves like Go Whereabouts v0.9.4's Kubernetes backend, for interoperability
// tests: with `lease: true` every ADD and DEL first takes the cluster-wide Lease as Go does
// (go-lease.ts) and hands it back at the end; the same requests in the same order, the same JSON patches (resourceVersion `test`, a `test … null` before every `add`),
// the same retry rules (no backoff, at most 100 tries, 422 means "read again"), the same object
// shapes and names. Plain fetch against the double's URL (HTTP; a token if given).
//
// ADD, per range: [LIST ippools] → GET pool (404: POST {range, allocations: {}} and read again) →
// lowest free address by Go's rules → [GET ORIP <ip>: another podref → skip that address and read
// again] → PATCH json-patch → [POST ORIP {podref, ifname}].
// DEL: [LIST ippools] → GET pool → first entry with id == container id and ifname == interface
// (none: done) → PATCH [test rv, remove] → [DELETE ORIP <ip> by name, no owner check].
//
// Deliberately not reproduced (Go bugs the tests do not need): success reported after a failed
// PATCH when the ORIP POST succeeds, the `skipORIP` leak across ranges, the ORIP named "<nil>".
// The allocation decision reuses the allocator's pure functions where they equal Go's rules
// (candidate window, exclude jumps, lowest free address, podRef+ifName idempotency); the gateway
// is not passed, so it is allocatable as in Go.
import { assign, type RangeRule } from "../../src/allocator/assign.ts";
import { addressSet } from "../../src/allocator/interval-set.ts";
import { viewPool } from "../../src/allocator/pool-view.ts";
import { rule } from "../../src/allocator/test-support.ts";
import { ExhaustedError, describe as errorText } from "../../src/errors/errors.ts";
import { type Cidr, formatCidr, formatIP, type IP, masked, parseCidr } from "../../src/ip/index.ts";
import { GoLease } from "./go-lease.ts";
import { GROUP_PATH, type RawPool, type RawReservation, snapshotOf } from "./go-view.ts";

/** One range of a network's ipam config, as Go reads it. */
export interface GoNetwork {
  /** CIDR as configured (host bits allowed; the pool is named after the masked form). */
  readonly range: string;
  readonly rangeStart?: string;
  readonly rangeEnd?: string;
  readonly exclude?: readonly string[];
  readonly networkName?: string;
  /** Default true, as in Go. */
  readonly enableOverlappingRanges?: boolean;
}

export interface GoAttachment {
  readonly containerId: string;
  /** `<namespace>/<name>` */
  readonly podRef: string;
  readonly ifName?: string;
}

export type GoAddResult =
  | { readonly ok: true; readonly address: string; readonly attempts: number }
  | { readonly ok: false; readonly error: string; readonly attempts: number };

export type GoDelResult =
  | { readonly ok: true; readonly released: string | undefined }
  | { readonly ok: false; readonly error: string };

export interface GoWriterOptions {
  /** The double's URL (http://…). */
  readonly url: string;
  /** The namespace of the kubeconfig's context (Go: kube-system when empty). */
  readonly namespace?: string;
  readonly token?: string;
  /** Go's "connectivity check" LIST before every ADD and DEL (default true). */
  readonly listPools?: boolean;
  /** DatastoreRetries (100). */
  readonly retries?: number;
  /** The shared request context (10 s in Go). */
  readonly timeLimitMs?: number;
  /** Take the Lease `whereabouts` around every ADD and DEL, as Go does (default false). */
  readonly lease?: boolean;
}

const DATASTORE_RETRIES = 100;
const REQUEST_TIMEOUT_MS = 10_000;
/** How long Go waits to become leader: AddTimeLimit (2 min) and DelTimeLimit (1 min). */
const ADD_LEASE_LIMIT_MS = 120_000;
const DEL_LEASE_LIMIT_MS = 60_000;

/** Go's normalizeRange: a trailing ':' gets '0', then ':' and '/' become '-'. */
function normalize(text: string): string {
  return (text.endsWith(":") ? `${text}0` : text).replaceAll(":", "-").replaceAll("/", "-");
}

function prefixed(networkName: string | undefined, name: string): string {
  return networkName ? `${networkName}-${name}` : name;
}

export function goPoolName(network: GoNetwork): string {
  return prefixed(network.networkName, normalize(formatCidr(masked(parseRange(network.range)))));
}

export function goReservationName(ip: IP, networkName?: string): string {
  return prefixed(networkName, normalize(formatIP(ip)));
}

function parseRange(text: string): Cidr {
  const cidr = parseCidr(text);
  if (cidr === undefined) throw new Error(`go-writer: not a CIDR: ${text}`);
  return cidr;
}

function ruleOf(network: GoNetwork): RangeRule {
  return rule(network.range, {
    ...(network.rangeStart === undefined ? {} : { start: network.rangeStart }),
    ...(network.rangeEnd === undefined ? {} : { end: network.rangeEnd }),
    ...(network.exclude === undefined ? {} : { exclude: [...network.exclude] }),
  });
}

interface Answer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: decoded JSON
  readonly body: any;
}

class Fatal extends Error {}

export class GoWriter {
  readonly #url: string;
  readonly #namespace: string;
  readonly #token: string | undefined;
  readonly #list: boolean;
  readonly #retries: number;
  readonly #timeLimitMs: number;
  readonly #lease: boolean;
  /** Requests sent so far (all of them, failed ones included). */
  requests = 0;
  /** Lease attempts that had to wait (the Lease was held or the PUT lost). */
  leaseWaits = 0;

  constructor(options: GoWriterOptions) {
    this.#url = options.url;
    this.#namespace = options.namespace || "kube-system";
    this.#token = options.token;
    this.#list = options.listPools ?? true;
    this.#retries = options.retries ?? DATASTORE_RETRIES;
    this.#timeLimitMs = options.timeLimitMs ?? REQUEST_TIMEOUT_MS;
    this.#lease = options.lease ?? false;
  }

  /** Runs `work` holding the Lease (when configured), as Go's IPManagement does. */
  async #underLease<T>(podRef: string, limitMs: number, work: () => Promise<T>): Promise<T> {
    if (!this.#lease) return work();
    const lease = new GoLease(
      (method, path, body) => this.#send(method, path, body),
      this.#namespace,
      podRef,
    );
    try {
      await lease.acquire(Date.now() + limitMs);
    } catch (error) {
      throw new Fatal(errorText(error));
    } finally {
      this.leaseWaits += lease.waits;
    }
    try {
      return await work();
    } finally {
      await lease.release();
    }
  }

  async #send(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<Answer> {
    this.requests++;
    const headers: Record<string, string> = { Accept: "application/json" };
    if (this.#token !== undefined) headers["Authorization"] = `Bearer ${this.#token}`;
    if (body !== undefined) headers["Content-Type"] = contentType;
    let res: Response;
    try {
      res = await fetch(`${this.#url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new Fatal(`${method} ${path}: ${errorText(error)}`);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      // a plain-text body (429 from APF): keep the text
    }
    return { status: res.status, body: parsed };
  }

  #path(resource: "ippools" | "overlappingrangeipreservations", name?: string): string {
    const base = `${GROUP_PATH}/namespaces/${this.#namespace}/${resource}`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  async #connectivityCheck(): Promise<void> {
    if (!this.#list) return;
    const r = await this.#send("GET", this.#path("ippools"));
    if (r.status !== 200) throw new Fatal(`k8s list error: ${r.status} ${message(r)}`);
  }

  /** getPool: the pool, or undefined after creating a missing one (a temporary error: read again). */
  async #getPool(name: string, range: Cidr): Promise<RawPool | undefined> {
    const r = await this.#send("GET", this.#path("ippools", name));
    if (r.status === 200) return r.body as RawPool;
    if (r.status !== 404) throw new Fatal(`k8s get error: ${r.status} ${message(r)}`);
    const created = await this.#send("POST", this.#path("ippools"), {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "IPPool",
      metadata: { name, namespace: this.#namespace },
      spec: { range: formatCidr(masked(range)), allocations: {} },
    });
    if (created.status !== 201 && created.status !== 409)
      throw new Fatal(`k8s create error: ${created.status} ${message(created)}`);
    return undefined;
  }

  async add(network: GoNetwork, attachment: GoAttachment): Promise<GoAddResult> {
    try {
      return await this.#underLease(attachment.podRef, ADD_LEASE_LIMIT_MS, () =>
        this.#add(network, attachment),
      );
    } catch (error) {
      if (error instanceof Fatal) return { ok: false, error: error.message, attempts: 0 };
      throw error;
    }
  }

  async del(network: GoNetwork, attachment: GoAttachment): Promise<GoDelResult> {
    try {
      return await this.#underLease(attachment.podRef, DEL_LEASE_LIMIT_MS, () =>
        this.#del(network, attachment),
      );
    } catch (error) {
      if (error instanceof Fatal) return { ok: false, error: error.message };
      throw error;
    }
  }

  async #add(network: GoNetwork, attachment: GoAttachment): Promise<GoAddResult> {
    const ifName = attachment.ifName ?? "eth0";
    const overlapping = network.enableOverlappingRanges ?? true;
    const range = parseRange(network.range);
    const r = ruleOf(network);
    const poolName = goPoolName(network);
    const deadline = Date.now() + this.#timeLimitMs;
    const dummies: bigint[] = [];
    let attempts = 0;
    try {
      await this.#connectivityCheck();
      let chosen: IP | undefined;
      let skipOrip = false;
      let lastError = "";
      for (let j = 0; j < this.#retries; j++) {
        if (Date.now() >= deadline) break;
        attempts++;
        const pool = await this.#getPool(poolName, range);
        if (pool === undefined) continue;
        const base = parseRange(pool.spec.range);
        const view = viewPool(snapshotOf(pool), { family: base.family, value: base.address });
        const decision = assign(
          r,
          view,
          { containerId: attachment.containerId, podRef: attachment.podRef, ifName },
          { skip: addressSet(dummies) },
        );
        const ip = decision.kind === "new" ? decision.address : decision.entry.address;
        if (overlapping) {
          const orip = await this.#send(
            "GET",
            this.#path("overlappingrangeipreservations", goReservationName(ip, network.networkName)),
          );
          if (orip.status === 200) {
            if ((orip.body as RawReservation).spec.podref !== attachment.podRef) {
              dummies.push(ip.value);
              lastError = `${formatIP(ip)} is reserved by another pod`;
              continue;
            }
            skipOrip = true;
          } else if (orip.status !== 404) {
            throw new Fatal(`k8s get OverlappingRangeIPReservation error: ${orip.status} ${message(orip)}`);
          }
        }
        const ops: unknown[] = [
          { op: "test", path: "/metadata/resourceVersion", value: pool.metadata.resourceVersion },
        ];
        if (decision.kind === "new") {
          const key = String(ip.value - base.address);
          const path = `/spec/allocations/${key}`;
          ops.push(
            { op: "test", path, value: null },
            {
              op: "add",
              path,
              value: { id: attachment.containerId, podref: attachment.podRef, ifname: ifName },
            },
          );
        } else if (decision.updated !== undefined) {
          ops.push({
            op: "replace",
            path: `/spec/allocations/${decision.entry.key}/id`,
            value: attachment.containerId,
          });
        }
        const patched = await this.#send(
          "PATCH",
          this.#path("ippools", poolName),
          ops,
          "application/json-patch+json",
        );
        if (patched.status === 200) {
          chosen = ip;
          break;
        }
        lastError = `k8s patch error: ${patched.status} ${message(patched)}`;
        if (patched.status === 422) continue; // a failed `test`: someone else wrote the pool
        throw new Fatal(lastError);
      }
      if (chosen === undefined) return { ok: false, error: lastError || "time limit exceeded", attempts };
      if (overlapping && !skipOrip) {
        const created = await this.#send("POST", this.#path("overlappingrangeipreservations"), {
          apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
          kind: "OverlappingRangeIPReservation",
          metadata: { name: goReservationName(chosen, network.networkName), namespace: this.#namespace },
          spec: { podref: attachment.podRef, ifname: ifName },
        });
        // Go returns the error and leaves the pool entry for the runtime's DEL.
        if (created.status !== 201)
          return { ok: false, error: `ORIP create: ${created.status} ${message(created)}`, attempts };
      }
      return { ok: true, address: formatIP(chosen), attempts };
    } catch (error) {
      if (error instanceof Fatal) return { ok: false, error: error.message, attempts };
      if (error instanceof ExhaustedError) return { ok: false, error: errorText(error), attempts };
      throw error;
    }
  }

  async #del(network: GoNetwork, attachment: GoAttachment): Promise<GoDelResult> {
    const ifName = attachment.ifName ?? "eth0";
    const overlapping = network.enableOverlappingRanges ?? true;
    const range = parseRange(network.range);
    const poolName = goPoolName(network);
    const deadline = Date.now() + this.#timeLimitMs;
    try {
      await this.#connectivityCheck();
      let released: IP | undefined;
      for (let j = 0; j < this.#retries && Date.now() < deadline; j++) {
        const pool = await this.#getPool(poolName, range);
        if (pool === undefined) continue;
        const base = parseRange(pool.spec.range);
        const view = viewPool(snapshotOf(pool), { family: base.family, value: base.address });
        const entry = view.entries.find(
          (e) => e.allocation.containerId === attachment.containerId && e.allocation.ifName === ifName,
        );
        if (entry === undefined) return { ok: true, released: undefined };
        const patched = await this.#send(
          "PATCH",
          this.#path("ippools", poolName),
          [
            { op: "test", path: "/metadata/resourceVersion", value: pool.metadata.resourceVersion },
            { op: "remove", path: `/spec/allocations/${entry.key}` },
          ],
          "application/json-patch+json",
        );
        if (patched.status === 200) {
          released = entry.address;
          break;
        }
        if (patched.status !== 422) throw new Fatal(`k8s patch error: ${patched.status} ${message(patched)}`);
      }
      if (released === undefined) return { ok: false, error: "DEL: retries exhausted" };
      if (overlapping) {
        // By name, whoever holds it (Go's behaviour); a 404 is an error Go's cmdDel swallows.
        await this.#send(
          "DELETE",
          this.#path("overlappingrangeipreservations", goReservationName(released, network.networkName)),
        );
      }
      return { ok: true, released: formatIP(released) };
    } catch (error) {
      if (error instanceof Fatal) return { ok: false, error: error.message };
      throw error;
    }
  }
}

function message(answer: Answer): string {
  const body = answer.body as { message?: unknown } | string | undefined;
  if (typeof body === "string") return body.trim();
  return typeof body?.message === "string" ? body.message : "";
}
