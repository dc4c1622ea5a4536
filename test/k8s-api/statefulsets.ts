// apps/v1 StatefulSets (pkg/registry/apps/statefulset/strategy.go, pkg/apis/apps/v1/defaults.go,
// pkg/apis/apps/validation): defaulting, status reset on create and kept on update, generation 1
// on create and +1 on a spec change, the /status subresource, the update rule that only some spec
// fields may change, and the printer's columns. No controller runs: a StatefulSet never creates
// pods here (tests create them, with the ownerReference the real controller writes), and its
// status changes only through /status.
import { jsonEqual } from "./json-patch.ts";
import { podSpecDefaults } from "./pods.ts";
import { at, type JsonObject, metaOf, str } from "./resources.ts";
import { CREATED_AT_COLUMN, humanDuration, NAME_COLUMN, type TableConvertor } from "./table.ts";
import { isObject, objectAt, typedDef } from "./typed-def.ts";
import {
  type FieldError,
  forbiddenField,
  invalidValue,
  isDns1123Label,
  notSupported,
  required,
} from "./validation.ts";

const SPEC_UPDATABLE =
  "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

/** The spec fields an update may change (ValidateStatefulSetUpdate restores them before comparing). */
const UPDATABLE = [
  "replicas",
  "ordinals",
  "template",
  "updateStrategy",
  "revisionHistoryLimit",
  "persistentVolumeClaimRetentionPolicy",
  "minReadySeconds",
];

/** SetDefaults_StatefulSet (the feature gates of v1.34's defaults), and the template's pod spec. */
function statefulSetDefaults(sts: JsonObject): void {
  const spec = objectAt(sts, "spec");
  spec["podManagementPolicy"] ??= "OrderedReady";
  const strategy = objectAt(spec, "updateStrategy");
  if (str(strategy["type"]) === "") {
    strategy["type"] = "RollingUpdate";
    strategy["rollingUpdate"] ??= {};
  }
  if (strategy["type"] === "RollingUpdate" && isObject(strategy["rollingUpdate"]))
    strategy["rollingUpdate"]["partition"] ??= 0;
  const retention = objectAt(spec, "persistentVolumeClaimRetentionPolicy");
  retention["whenDeleted"] ??= "Retain";
  retention["whenScaled"] ??= "Retain";
  spec["replicas"] ??= 1;
  spec["revisionHistoryLimit"] ??= 10;
  podSpecDefaults(objectAt(objectAt(spec, "template"), "spec"));
  // StatefulSetStatus is a struct whose replicas and availableReplicas have no omitempty.
  const status = objectAt(sts, "status");
  status["replicas"] ??= 0;
  status["availableReplicas"] ??= 0;
}

/** Go's %#v of a map[string]string (keys sorted). */
function goMap(labels: JsonObject): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "map[string]string(nil)";
  return `map[string]string{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(str(labels[k]))}`).join(", ")}}`;
}

/** metav1.LabelSelectorAsSelector(selector).Matches(labels), for the operators a selector has. */
function selects(selector: JsonObject, labels: JsonObject): boolean {
  const matchLabels = isObject(selector["matchLabels"]) ? selector["matchLabels"] : {};
  for (const [k, v] of Object.entries(matchLabels)) if (labels[k] !== v) return false;
  const expressions = Array.isArray(selector["matchExpressions"]) ? selector["matchExpressions"] : [];
  for (const e of expressions.filter(isObject)) {
    const key = str(e["key"]);
    const values = Array.isArray(e["values"]) ? e["values"] : [];
    const has = Object.hasOwn(labels, key);
    switch (e["operator"]) {
      case "In":
        if (!has || !values.includes(labels[key]!)) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

const nonNegative = (obj: JsonObject, key: string, path: string): FieldError[] => {
  const v = obj[key];
  return typeof v === "number" && v < 0
    ? [invalidValue(`${path}.${key}`, v, "must be greater than or equal to 0")]
    : [];
};

function specErrors(sts: JsonObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = objectAt(sts, "spec");
  const policy = str(spec["podManagementPolicy"]);
  if (!["OrderedReady", "Parallel"].includes(policy))
    errs.push(notSupported("spec.podManagementPolicy", policy, ["OrderedReady", "Parallel"]));
  const strategy = objectAt(spec, "updateStrategy");
  const type = str(strategy["type"]);
  if (!["RollingUpdate", "OnDelete"].includes(type))
    errs.push(notSupported("spec.updateStrategy.type", type, ["OnDelete", "RollingUpdate"]));
  else if (type === "OnDelete" && strategy["rollingUpdate"] !== undefined)
    errs.push(
      invalidValue(
        "spec.updateStrategy.rollingUpdate",
        { goSyntax: "(*apps.RollingUpdateStatefulSetStrategy)" },
        "only allowed for updateStrategy 'RollingUpdate'",
      ),
    );
  errs.push(...nonNegative(spec, "replicas", "spec"));
  errs.push(...nonNegative(spec, "minReadySeconds", "spec"));
  const service = str(spec["serviceName"]);
  if (service !== "")
    for (const msg of isDns1123Label(service)) errs.push(invalidValue("spec.serviceName", service, msg));
  const template = objectAt(spec, "template");
  const labels = isObject(objectAt(template, "metadata")["labels"])
    ? (objectAt(template, "metadata")["labels"] as JsonObject)
    : {};
  const selector = spec["selector"];
  if (!isObject(selector)) errs.push(required("spec.selector"));
  else if (
    Object.keys(isObject(selector["matchLabels"]) ? selector["matchLabels"] : {}).length === 0 &&
    !(Array.isArray(selector["matchExpressions"]) && selector["matchExpressions"].length > 0)
  )
    errs.push(
      invalidValue(
        "spec.selector",
        {
          goSyntax:
            "&v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}",
        },
        "empty selector is invalid for statefulset",
      ),
    );
  else if (!selects(selector, labels))
    errs.push(
      invalidValue(
        "spec.template.metadata.labels",
        { goSyntax: goMap(labels) },
        "`selector` does not match template `labels`",
      ),
    );
  const podSpec = objectAt(template, "spec");
  const containers = podSpec["containers"];
  if (!Array.isArray(containers) || containers.length === 0)
    errs.push(required("spec.template.spec.containers"));
  else
    containers.forEach((c, i) => {
      const name = isObject(c) ? str(c["name"]) : "";
      if (!name) errs.push(required(`spec.template.spec.containers[${i}].name`));
      if (!isObject(c) || !str(c["image"])) errs.push(required(`spec.template.spec.containers[${i}].image`));
    });
  const restart = str(podSpec["restartPolicy"]);
  if (restart !== "Always") errs.push(notSupported("spec.template.spec.restartPolicy", restart, ["Always"]));
  return errs;
}

function statusErrors(sts: JsonObject): FieldError[] {
  const status = objectAt(sts, "status");
  return [
    "replicas",
    "readyReplicas",
    "currentReplicas",
    "updatedReplicas",
    "availableReplicas",
    "observedGeneration",
  ].flatMap((key) => nonNegative(status, key, "status"));
}

/** What `kubectl get statefulsets` shows (pkg/printers/internalversion printStatefulSet). */
const STATEFULSET_TABLE: TableConvertor = {
  columns: [
    NAME_COLUMN,
    {
      name: "Ready",
      type: "string",
      format: "",
      description: "Number of the pod with ready state",
      priority: 0,
    },
    { name: "Age", type: "string", format: "", description: CREATED_AT_COLUMN.description, priority: 0 },
    {
      name: "Containers",
      type: "string",
      format: "",
      description: "Names of each container in the template.",
      priority: 1,
    },
    {
      name: "Images",
      type: "string",
      format: "",
      description: "Images referenced by each container in the template.",
      priority: 1,
    },
  ],
  cells(sts, now) {
    const meta = metaOf(sts);
    const created = Date.parse(str(meta["creationTimestamp"]));
    const containers = (objectAt(objectAt(objectAt(sts, "spec"), "template"), "spec")["containers"] ?? []) as
      | JsonObject[]
      | [];
    const list = Array.isArray(containers) ? containers.filter(isObject) : [];
    return [
      str(meta["name"]),
      `${Number(at(sts, "status.readyReplicas")) || 0}/${Number(at(sts, "spec.replicas")) || 0}`,
      Number.isNaN(created) ? "<unknown>" : humanDuration(now - created),
      list.map((c) => str(c["name"])).join(","),
      list.map((c) => str(c["image"])).join(","),
    ];
  },
};

export const STATEFULSETS = typedDef({
  group: "apps",
  resource: "statefulsets",
  singular: "statefulset",
  kind: "StatefulSet",
  namespaced: true,
  shortNames: ["sts"],
  categories: ["all"],
  etcdPrefix: "/registry/statefulsets",
  allowCreateOnUpdate: false,
  allowUnconditionalUpdate: true,
  subresources: ["status"],
  nameFn: (name, prefix) => isDns1123Label(prefix && name.endsWith("-") ? `${name.slice(0, -1)}a` : name),
  typedFields: [
    { path: "spec.replicas", type: "int32", struct: "StatefulSetSpec" },
    { path: "spec.serviceName", type: "string", struct: "StatefulSetSpec" },
    { path: "spec.podManagementPolicy", type: "string", struct: "StatefulSetSpec" },
    { path: "spec.revisionHistoryLimit", type: "int32", struct: "StatefulSetSpec" },
    { path: "spec.minReadySeconds", type: "int32", struct: "StatefulSetSpec" },
    { path: "spec.ordinals.start", type: "int32", struct: "StatefulSetOrdinals" },
    { path: "spec.updateStrategy.type", type: "string", struct: "StatefulSetUpdateStrategy" },
    {
      path: "spec.updateStrategy.rollingUpdate.partition",
      type: "int32",
      struct: "RollingUpdateStatefulSetStrategy",
    },
    { path: "spec.selector.matchLabels", type: "stringMap", struct: "LabelSelector" },
    { path: "spec.template.metadata.labels", type: "stringMap", struct: "ObjectMeta" },
    { path: "spec.template.metadata.annotations", type: "stringMap", struct: "ObjectMeta" },
    { path: "spec.template.spec.restartPolicy", type: "string", struct: "PodSpec" },
    { path: "spec.template.spec.terminationGracePeriodSeconds", type: "int64", struct: "PodSpec" },
    { path: "spec.template.spec.containers[].name", type: "string", struct: "Container" },
    { path: "spec.template.spec.containers[].image", type: "string", struct: "Container" },
    { path: "status.observedGeneration", type: "int64", struct: "StatefulSetStatus" },
    { path: "status.replicas", type: "int32", struct: "StatefulSetStatus" },
    { path: "status.readyReplicas", type: "int32", struct: "StatefulSetStatus" },
    { path: "status.currentReplicas", type: "int32", struct: "StatefulSetStatus" },
    { path: "status.updatedReplicas", type: "int32", struct: "StatefulSetStatus" },
    { path: "status.availableReplicas", type: "int32", struct: "StatefulSetStatus" },
    { path: "status.currentRevision", type: "string", struct: "StatefulSetStatus" },
    { path: "status.updateRevision", type: "string", struct: "StatefulSetStatus" },
    { path: "status.collisionCount", type: "int32", struct: "StatefulSetStatus" },
  ],
  order: ["spec", "status"],
  defaults: statefulSetDefaults,
  table: STATEFULSET_TABLE,
  prepareForCreate(sts) {
    sts["status"] = { replicas: 0, availableReplicas: 0 };
    metaOf(sts)["generation"] = 1;
  },
  prepareForUpdate(sts, old) {
    sts["status"] = structuredClone(old["status"] ?? { replicas: 0, availableReplicas: 0 });
    const generation = metaOf(old)["generation"];
    if (!jsonEqual(sts["spec"] ?? null, old["spec"] ?? null))
      metaOf(sts)["generation"] = (typeof generation === "number" ? generation : 0) + 1;
  },
  validate: (sts) => [...specErrors(sts), ...statusErrors(sts)],
  validateUpdate(sts, old) {
    const errs = [...specErrors(sts), ...statusErrors(sts)];
    const spec = structuredClone(objectAt(sts, "spec"));
    const before = objectAt(old, "spec");
    for (const key of UPDATABLE) {
      if (before[key] === undefined) delete spec[key];
      else spec[key] = structuredClone(before[key]!);
    }
    if (!jsonEqual(spec, before)) errs.push(forbiddenField("spec", SPEC_UPDATABLE));
    return errs;
  },
  prepareStatusUpdate(sts, old) {
    const out = structuredClone(sts);
    out["spec"] = structuredClone(old["spec"] ?? {});
    return out;
  },
});
