// whereabouts.conf as Whereabouts v0.9.4's installer writes it: the Kubernetes datastore, the
// kubeconfig beside it, its own directory as configuration_path and the reconciler's schedule.
// Nothing of ours is added: the flat file fills every key a network configuration leaves empty,
// so any further key would change every network on the node, Go plugins' too during a migration
// (docs/install.md says which keys were considered).
import { type Layout, onHost } from "./layout.ts";

export function flatFileText(layout: Layout, cron: string): string {
  const flat = {
    datastore: "kubernetes",
    configuration_path: onHost(layout.confSubdir),
    kubernetes: { kubeconfig: onHost(layout.kubeconfig) },
    reconciler_cron_expression: cron,
  };
  return `${JSON.stringify(flat, null, 2)}\n`;
}
