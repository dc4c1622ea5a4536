// Kubernetes RBAC evaluated over rendered manifests, as the apiserver's authorizer does it for a
// ServiceAccount: the rules of every RoleBinding (in its namespace) and ClusterRoleBinding (in
// every namespace) whose subjects name it. A rule allows a request when its apiGroups, resources
// (`plural` or `plural/subresource`) and verbs match (or are "*") and, if it lists resourceNames,
// the request names one of them (so never a create, list, watch or deletecollection).
import type { LoggedRequest } from "../k8s-api/request-log.ts";
import type { KubeObject } from "./render.ts";

export interface Rule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

/** One request as the authorizer sees it. */
export interface Access {
  readonly verb: string;
  readonly group: string;
  /** `plural` or `plural/subresource`. */
  readonly resource: string;
  /** "" for cluster-scoped requests and requests across all namespaces. */
  readonly namespace: string;
  readonly name: string;
}

/** A rule as granted to one account: in one namespace (Role or RoleBinding) or everywhere. */
export interface Grant {
  readonly rule: Rule;
  /** undefined: every namespace (a ClusterRoleBinding). */
  readonly namespace: string | undefined;
  /** `Role/ns/name` or `ClusterRole/name`, for messages. */
  readonly source: string;
}

export interface Account {
  readonly namespace: string;
  readonly name: string;
}

/** The API double's request log entry (`ippools.whereabouts.cni.cncf.io`, `pods/status`) as an Access. */
export function accessOf(entry: Pick<LoggedRequest, "verb" | "resource" | "namespace" | "name">): Access {
  const [qualified = "", sub] = entry.resource.split("/", 2);
  const dot = qualified.indexOf(".");
  const plural = dot < 0 ? qualified : qualified.slice(0, dot);
  return {
    verb: entry.verb,
    group: dot < 0 ? "" : qualified.slice(dot + 1),
    resource: sub === undefined ? plural : `${plural}/${sub}`,
    namespace: entry.namespace,
    name: entry.name,
  };
}

interface Binding {
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly roleRef: { readonly kind: string; readonly name: string };
  readonly subjects?: readonly { kind: string; name: string; namespace?: string }[];
}

/** Every rule the account is granted by the objects. */
export function grantsOf(objects: readonly KubeObject[], account: Account): Grant[] {
  const roles = new Map<string, readonly Rule[]>();
  for (const o of objects) {
    if (o.kind !== "Role" && o.kind !== "ClusterRole") continue;
    const key =
      o.kind === "Role"
        ? `Role/${o.metadata.namespace}/${o.metadata.name}`
        : `ClusterRole/${o.metadata.name}`;
    roles.set(key, ((o as { rules?: Rule[] }).rules ?? []) as readonly Rule[]);
  }
  const grants: Grant[] = [];
  for (const o of objects) {
    if (o.kind !== "RoleBinding" && o.kind !== "ClusterRoleBinding") continue;
    const binding = o as unknown as Binding;
    const names = (binding.subjects ?? []).some(
      (s) => s.kind === "ServiceAccount" && s.name === account.name && s.namespace === account.namespace,
    );
    if (!names) continue;
    const scope = o.kind === "RoleBinding" ? binding.metadata.namespace : undefined;
    const source =
      binding.roleRef.kind === "Role"
        ? `Role/${scope}/${binding.roleRef.name}`
        : `ClusterRole/${binding.roleRef.name}`;
    const rules = roles.get(source);
    if (rules === undefined)
      throw new Error(`${o.kind} ${o.metadata.name} refers to ${source}, which is not rendered`);
    for (const rule of rules) grants.push({ rule, namespace: scope, source });
  }
  return grants;
}

const matches = (list: readonly string[] | undefined, value: string) =>
  list !== undefined && (list.includes("*") || list.includes(value));

/** Whether the grant allows the access. */
export function allows(grant: Grant, access: Access): boolean {
  if (grant.namespace !== undefined && grant.namespace !== access.namespace) return false;
  const { rule } = grant;
  if (!matches(rule.apiGroups, access.group)) return false;
  if (!matches(rule.resources, access.resource)) return false;
  if (!matches(rule.verbs, access.verb)) return false;
  if (rule.resourceNames !== undefined && rule.resourceNames.length > 0)
    return access.name !== "" && rule.resourceNames.includes(access.name);
  return true;
}

export function describeAccess(a: Access): string {
  const what = `${a.verb} ${a.group === "" ? "" : `${a.group}/`}${a.resource}`;
  return `${what}${a.name === "" ? "" : ` ${a.name}`} in ${a.namespace === "" ? "(all namespaces)" : a.namespace}`;
}

/** Each (grant, verb, resource, resourceName) a grant spells out, for the "is it used?" direction. */
export function permissionsOf(
  grant: Grant,
): { verb: string; group: string; resource: string; name?: string }[] {
  const out: { verb: string; group: string; resource: string; name?: string }[] = [];
  const names = grant.rule.resourceNames?.length ? grant.rule.resourceNames : [undefined];
  for (const group of grant.rule.apiGroups ?? [])
    for (const resource of grant.rule.resources ?? [])
      for (const verb of grant.rule.verbs)
        for (const name of names)
          out.push({ verb, group, resource, ...(name === undefined ? {} : { name }) });
  return out;
}

/**
 * The permissions of the account that no access uses (each as text). A permission granted in every
 * namespace counts as used only by an access outside the account's own namespace: otherwise a
 * Role there would have done.
 */
export function unusedPermissions(
  grants: readonly Grant[],
  account: Account,
  accesses: readonly Access[],
): string[] {
  const unused: string[] = [];
  for (const grant of grants) {
    for (const p of permissionsOf(grant)) {
      const used = accesses.some(
        (a) =>
          a.verb === p.verb &&
          a.group === p.group &&
          a.resource === p.resource &&
          (p.name === undefined || a.name === p.name) &&
          (grant.namespace === undefined
            ? a.namespace !== account.namespace
            : a.namespace === grant.namespace),
      );
      if (!used)
        unused.push(
          `${grant.source}: ${p.verb} ${p.group === "" ? "" : `${p.group}/`}${p.resource}${p.name === undefined ? "" : ` ${p.name}`}`,
        );
    }
  }
  return unused;
}

/** The accesses no grant allows (each as text). */
export function deniedAccesses(grants: readonly Grant[], accesses: readonly Access[]): string[] {
  return [...new Set(accesses.filter((a) => !grants.some((g) => allows(g, a))).map(describeAccess))];
}
