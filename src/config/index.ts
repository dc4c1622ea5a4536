// The config folder's public surface: load a network's IPAM config, and the types it produces.
export { ForeignIpamError, MissingIpamError } from "./errors.ts";
export { DEFAULT_FLAT_FILE_PATHS, FLAT_FILE_NAME, type ReadFile } from "./flat-file.ts";
export { type ConfigSources, loadIpamConfig, loadIpamConfigFromNetwork } from "./load.ts";
export * from "./types.ts";
