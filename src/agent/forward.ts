// The plugin's first step when a node agent listens: forward the invocation (the CNI_* variables and
// stdin) and relay the answer. Kept free of the plugin's own modules, which the binary evaluates
// only when it has to do the work itself (no agent, or no answer from it). Every verb is
// idempotent per attachment, so a call the agent may have half-done is safe to run again here.
import { lstatSync, statSync } from "node:fs";
import { processIO } from "../cni/process-io.ts";
import { describe } from "../errors/errors.ts";
import { AGENT_TIMEOUT_MS, callAgent } from "./client.ts";
import { agentSocket, CNI_PATH, forwardedEnv } from "./protocol.ts";
import { parentOf, placeProblem, socketProblem } from "./socket-trust.ts";

/** `code` when the agent answered; otherwise the stdin already read, if any, for the local run. */
export type Forwarded = { readonly code: number } | { readonly code?: undefined; readonly stdin?: string };

/** `path`: the IPAM plugin's calls (CNI_PATH) or the meta-plugin's (MULTUS_PATH). */
export async function forwardToAgent(path = CNI_PATH): Promise<Forwarded> {
  const io = processIO();
  const socket = agentSocket(io.env);
  if (io.env["CNI_COMMAND"] === "VERSION" || socket === "") return {};
  const trouble = untrustedSocket(socket);
  if (trouble === "absent") return {};
  if (trouble !== undefined) {
    io.stderr(`thereabouts: node agent socket ${socket} ${trouble}; working without it\n`);
    return {};
  }
  const stdin = await io.readStdin();
  try {
    const answer = await callAgent(socket, { env: forwardedEnv(io.env), stdin }, AGENT_TIMEOUT_MS, path);
    // Declined (the agent does not share the paths this configuration names): run it here.
    if ("declined" in answer) return { stdin };
    if (answer.stdout !== "") io.stdout(answer.stdout);
    if (answer.stderr !== "") io.stderr(answer.stderr);
    return { code: answer.code };
  } catch (error) {
    io.stderr(
      `thereabouts: node agent at ${socket} did not answer (${describe(error)}); working without it\n`,
    );
    return { stdin };
  }
}

/**
 * Why the plugin must not hand its call (credentials included) to whatever listens at `socket`:
 * "absent" when nothing is there, a reason when it is not root's socket in a directory only root
 * can change (socket-trust.ts), undefined when it may. Checked before connecting, so an impostor
 * never sees a byte.
 */
export function untrustedSocket(socket: string): string | undefined {
  if (!socket.startsWith("/")) return "is not an absolute path";
  const euid = process.geteuid?.() ?? 0;
  try {
    const st = lstatSync(socket, { throwIfNoEntry: false });
    if (st === undefined) return "absent";
    return socketProblem(st, euid) ?? placeProblem(parentOf(socket), (path) => statSync(path), euid);
  } catch (error) {
    return `cannot be checked (${(error as NodeJS.ErrnoException).code ?? "error"})`;
  }
}
