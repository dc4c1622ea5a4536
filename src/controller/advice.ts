// Store and API failures as the controller logs them: the message, the facts, and what the
// controller's operator can do about them — the controller's own kubeconfig or ServiceAccount and
// its RBAC. The Kubernetes client and store it shares with the plugin say only what happened; the
// plugin's advice (install-cni.sh, the plugin's ServiceAccount) is the plugin's edge's
// (src/cni/error-codes.ts), and would mislead here.
import { describe, StoreError, type StoreErrorFacts } from "../errors/errors.ts";

/** What the operator of the controller can do about it, where the facts say. */
export function controllerAdvice({ topic, settings, resource }: StoreErrorFacts): string | undefined {
  switch (topic) {
    case undefined:
      return undefined;
    case "settingsFile":
      return "--kubeconfig (or $KUBECONFIG) must name a readable kubeconfig file; without either, the controller uses its pod's ServiceAccount";
    case "credentialHelper":
      return "give the user of the controller's kubeconfig a token or a client certificate, or run the controller in a pod with its own ServiceAccount";
    case "credentials":
      return `the controller's credentials (${settings}) were refused: check its ServiceAccount token, or the user of its kubeconfig`;
    case "permissions":
      return "the controller's ServiceAccount lacks a permission of its role (docs/controller.md): pods get, list, watch; events create; configmaps get; leases get, create, patch; ippools and overlappingrangeipreservations get, list, watch, patch, delete, deletecollection; nodes and network-attachment-definitions list, watch; nodeslicepools list, watch, create, patch, delete";
    case "missing":
      return `the request for ${resource ?? "it"} found nothing: the namespace (--namespace, else the context's or the ServiceAccount's) and the whereabouts.cni.cncf.io CRDs (deploy/crds) must exist`;
  }
}

/** An error as log fields: `error` (its message), and where known its details, status and the controller's advice. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof StoreError)) return { error: describe(error) };
  const hint = controllerAdvice(error.facts);
  return {
    error: error.message,
    ...(error.details === undefined ? {} : { details: error.details }),
    ...(error.facts.status === undefined ? {} : { status: error.facts.status }),
    ...(hint === undefined ? {} : { hint }),
  };
}
