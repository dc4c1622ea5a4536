// Test fixture: etcd as Go Whereabouts v0.5.4 left it, written behind thereabouts' back through
// the etcd harness's own gateway calls (independent of src/). v0.5.4's layout: one key per range,
// `/whereabouts/<range>`, the range as Go prints a masked CIDR; its value the allocations as
// newline-joined `<ip> <containerID>` lines in the order Go appended them (no trailing newline, ""
// once every address was released); and while a plugin runs, its session's mutex key
// `/whereabouts/<range>/<lease id in hex>` with an empty value, tied to the session's lease.
import type { EtcdCluster } from "../etcd/etcd-cluster.ts";

/** One v0.5.4 range: the key's range text exactly as Go formed it, and [ip, containerID] lines. */
export interface GoV054Range {
  readonly range: string;
  readonly allocations: readonly (readonly [ip: string, containerId: string])[];
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

export async function writeGoV054(cluster: EtcdCluster, ranges: readonly GoV054Range[]): Promise<void> {
  for (const r of ranges) {
    const value = r.allocations.map(([ip, id]) => `${ip} ${id}`).join("\n");
    await cluster.call(0, "/v3/kv/put", { key: b64(`/whereabouts/${r.range}`), value: b64(value) });
  }
}

/** A raw value for a range key (for values v0.5.4 could not read back). */
export async function writeGoV054Value(cluster: EtcdCluster, range: string, value: string): Promise<void> {
  await cluster.call(0, "/v3/kv/put", { key: b64(`/whereabouts/${range}`), value: b64(value) });
}

/** A v0.5.4 plugin holding the range's mutex: a 60 s lease and its key. `release()` revokes the lease. */
export async function holdGoV054Lock(
  cluster: EtcdCluster,
  range: string,
): Promise<{ readonly key: string; release(): Promise<void> }> {
  const grant = (await cluster.call(0, "/v3/lease/grant", { TTL: "60" })) as { ID?: string };
  const id = BigInt(grant.ID ?? "0");
  const key = `/whereabouts/${range}/${id.toString(16)}`;
  await cluster.call(0, "/v3/kv/put", { key: b64(key), value: "", lease: id.toString() });
  return {
    key,
    release: async () => {
      await cluster.call(0, "/v3/lease/revoke", { ID: id.toString() });
    },
  };
}

/** Every key (and value) under /whereabouts/, to show a run wrote nothing there. */
export async function dumpGoV054(cluster: EtcdCluster): Promise<Record<string, string>> {
  const reply = (await cluster.call(0, "/v3/kv/range", {
    key: b64("/whereabouts/"),
    range_end: b64("/whereabouts0"),
  })) as { kvs?: { key: string; value?: string }[] };
  return Object.fromEntries(
    (reply.kvs ?? []).map((kv) => [
      Buffer.from(kv.key, "base64").toString(),
      Buffer.from(kv.value ?? "", "base64").toString(),
    ]),
  );
}
