// Store failures as the plugin reports them. Stores and the Kubernetes client say what happened
// (a kind and the facts, src/errors/errors.ts); this is the one place that decides what that means
// in the CNI protocol — which code the runtime sees — and the advice a plugin's operator needs:
// the plugin is installed by install-cni.sh, runs as the plugin's ServiceAccount and is configured
// by `kubernetes.kubeconfig`. The controller gives its own advice for the same failures.
import {
  CNI_CODES,
  CniError,
  ConfigError,
  StoreError,
  type StoreErrorFacts,
  type StoreErrorKind,
} from "../errors/errors.ts";

const CODES: Readonly<Record<StoreErrorKind, number>> = {
  unavailable: CNI_CODES.tryAgainLater,
  refused: CNI_CODES.ioFailure,
  storedData: CNI_CODES.ioFailure,
  settings: CNI_CODES.invalidConfig,
};

/**
 * The CNI error of a store failure: its code by kind, its message, its details and the plugin's
 * advice; undefined for anything that is not a StoreError.
 */
export function storeCniError(error: unknown): CniError | undefined {
  if (!(error instanceof StoreError)) return undefined;
  const advice = pluginAdvice(error.facts);
  const details =
    error.details === undefined
      ? advice
      : advice === undefined
        ? error.details
        : `${error.details}; ${advice}`;
  if (error.kind === "settings") return new ConfigError(error.message, details, { cause: error });
  return new CniError(CODES[error.kind], error.message, details, { cause: error });
}

/** What the operator of a plugin can do about it, where the facts say. */
export function pluginAdvice({ topic, settings, namespace }: StoreErrorFacts): string | undefined {
  switch (topic) {
    case undefined:
      return undefined;
    case "settingsFile":
      return "kubernetes.kubeconfig must name a readable kubeconfig file (install-cni.sh writes one with a ServiceAccount token)";
    case "credentialHelper":
      return "give the plugin's user a ServiceAccount token (token or tokenFile) or a client certificate (client-certificate-data and client-key-data), as install-cni.sh writes";
    case "credentials":
      return `the credentials in kubeconfig ${settings} were refused: renew the ServiceAccount token (re-run install-cni.sh) or fix the user entry`;
    case "permissions":
      return `the user of kubeconfig ${settings} needs get, list, create, patch, delete and deletecollection on ippools and overlappingrangeipreservations (whereabouts.cni.cncf.io) in the namespace`;
    case "missing":
      return `the namespace "${namespace}" (the kubeconfig context's) and the whereabouts.cni.cncf.io CRDs (deploy/crds) must exist`;
  }
}
