// Bad usage of a command (an unknown flag, a missing or malformed argument): exit status 2 and a
// one-line message naming what to change, as every tool command does (0 fine, 1 something is
// wrong, 2 bad usage).
import { type ParseArgsConfig, parseArgs } from "node:util";

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** node:util parseArgs reports bad usage as a TypeError with an ERR_PARSE_ARGS_* code. */
export function isUsageError(error: unknown): boolean {
  if (error instanceof UsageError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_");
}

/** parseArgs (strict), with its complaints turned into UsageErrors. */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    if (isUsageError(error)) throw new UsageError((error as Error).message);
    throw error;
  }
}

/**
 * Prints a tool command's --help under the name it was run by (`kubectl thereabouts` as a kubectl
 * plugin) and returns its exit status.
 */
export function printCommandHelp(help: string, command: string, context: { kubectlPlugin: boolean }): number {
  const program = context.kubectlPlugin ? "kubectl thereabouts" : "thereabouts";
  process.stdout.write(help.replaceAll(`thereabouts ${command}`, `${program} ${command}`));
  return 0;
}
