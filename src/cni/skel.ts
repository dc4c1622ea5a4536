// The CNI dispatcher: checks the invocation, runs one verb, and turns every outcome into the
// protocol's output (exit code, result or error JSON on stdout, a log line on stderr). The process boundary is injected (PluginIO), so the whole
// protocol runs in-process in tests; process-io.ts binds it to the real process.
import { aboutText } from "../about.ts";
import { CNI_CODES, CniError, describe } from "../errors/errors.ts";
import { oneLine } from "../log/logger.ts";
import { storeCniError } from "./error-codes.ts";
import { parseRequest, type Request, readEnv } from "./request.ts";
import { formatError, formatResult, formatVersion, type IpamResult } from "./result.ts";

/** Everything the dispatcher touches outside itself. */
export interface PluginIO {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The whole of stdin as UTF-8. Called at most once, and never for VERSION. */
  readStdin(): Promise<string>;
  /** Writes must be complete when they return: the process may exit right after. */
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The verbs. A thrown CniError keeps its code; anything else is reported as 999. */
export interface Handlers<R = IpamResult> {
  add(req: Request): Promise<R>;
  del(req: Request): Promise<void>;
  check(req: Request): Promise<void>;
  gc(req: Request): Promise<void>;
  status(req: Request): Promise<void>;
  /**
   * The stderr line of a failed call once the handlers know how the call logs (its log_format);
   * undefined: the text line (failureLine).
   */
  failureLine?(command: string, error: CniError): string | undefined;
}

/**
 * Runs one CNI invocation and returns the exit code.
 * - No CNI_COMMAND: the about text (release and CNI versions) on stderr, 0.
 * - Success: ADD prints its result in the config's version, VERSION the version answer, the other
 *   verbs nothing; 0.
 * - Failure: the error JSON on stdout (never a stack trace), one log line on stderr; 1.
 * Never rejects.
 */
export async function runPlugin<R = IpamResult>(
  io: PluginIO,
  handlers: Handlers<R>,
  // The IPAM result by default; the meta-plugin prints a whole result (interfaces included).
  format: (result: R, cniVersion: string) => string = formatResult as (
    result: R,
    cniVersion: string,
  ) => string,
): Promise<number> {
  const command = io.env["CNI_COMMAND"] ?? "";
  if (command === "") {
    io.stderr(aboutText());
    return 0;
  }
  try {
    const output = await dispatch(io, handlers, format);
    if (output !== "") io.stdout(output);
    return 0;
  } catch (error) {
    const cniError = toCniError(error);
    try {
      io.stdout(formatError(cniError));
      io.stderr(handlers.failureLine?.(command, cniError) ?? `${failureLine(command, cniError)}\n`);
    } catch {
      // Nowhere left to report to; the exit code still says it failed.
    }
    return 1;
  }
}

/** Checks and runs the request; returns what goes to stdout ("" for nothing). */
async function dispatch<R>(
  io: PluginIO,
  handlers: Handlers<R>,
  format: (result: R, cniVersion: string) => string,
): Promise<string> {
  // The environment is checked before stdin is read, so a broken call fails without waiting
  // for input, and VERSION never waits for it at all.
  const env = readEnv(io.env);
  const stdin = env.command === "VERSION" ? "" : await readStdin(io);
  const req = parseRequest(io.env, stdin);
  switch (req.command) {
    case "ADD":
      return format(await handlers.add(req), req.cniVersion);
    case "DEL":
      await handlers.del(req);
      return "";
    case "CHECK":
      await handlers.check(req);
      return "";
    case "GC":
      await handlers.gc(req);
      return "";
    case "STATUS":
      await handlers.status(req);
      return "";
    case "VERSION":
      return formatVersion();
  }
}

async function readStdin(io: PluginIO): Promise<string> {
  try {
    return await io.readStdin();
  } catch (error) {
    throw new CniError(CNI_CODES.ioFailure, `error reading from stdin: ${describe(error)}`);
  }
}

/** CniErrors pass as they are, store failures get their code by kind; anything else is 999 carrying its message. */
export function toCniError(error: unknown): CniError {
  if (error instanceof CniError) return error;
  return (
    storeCniError(error) ?? new CniError(CNI_CODES.internal, describe(error), undefined, { cause: error })
  );
}

/** What a failed call says on stderr: the command, the code, the message and its details. */
export function failureMessage(command: string, error: CniError): string {
  const details = error.details ? `: ${error.details}` : "";
  return `CNI ${command} failed (code ${error.code}): ${error.message}${details}`;
}

/** The stderr line of a failed call (without its newline). */
export function failureLine(command: string, error: CniError): string {
  // One line, whatever the message or the command holds, so log collectors keep it together and a
  // value cannot start a line of its own.
  return oneLine(failureMessage(command, error));
}
