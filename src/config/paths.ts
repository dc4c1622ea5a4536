// Keys that name files. A relative path would resolve against the working directory of whichever
// process serves the call (the runtime's for a plugin working alone, the node agent's otherwise),
// so one network could use two different store files; a NUL byte cannot be passed to the system
// at all. Both are configuration errors that name the key.
import { ConfigError } from "../errors/errors.ts";
import { quote } from "../errors/message.ts";
import type { IpamInput } from "./ipam-input.ts";

/** Throws ConfigError (code 7) unless `path` is absent or an absolute path without a NUL byte. */
export function checkPath(key: string, path: string | undefined): void {
  if (path === undefined) return;
  if (path.includes("\0"))
    throw new ConfigError(`invalid ${key} ${quote(path)}: the path contains a NUL byte`);
  if (!path.startsWith("/"))
    throw new ConfigError(
      `invalid ${key} ${quote(path)}: must be an absolute path`,
      "a relative path would depend on the working directory of the process serving the call",
    );
}

/** Every path of the merged configuration (stdin or flat file). */
export function checkPaths(ipam: IpamInput): void {
  checkPath("configuration_path", ipam.configurationPath);
  checkPath("log_file", ipam.logFile);
  checkPath("local.path", ipam.local.path);
  checkPath("kubernetes.kubeconfig", ipam.kubernetes.kubeconfig);
  checkPath("etcd_cert_file", ipam.etcd.certFile);
  checkPath("etcd_key_file", ipam.etcd.keyFile);
  checkPath("etcd_ca_cert_file", ipam.etcd.caCertFile);
}
