// The plugin's first step when a node agent listens: forward the invocation (environment and
// stdin) and relay the answer. Kept free of the plugin's own modules, which the binary evaluates
// only when it has to do the work itself (no agent, or no answer from it). Every verb is
// idempotent per attachment, so a call the agent may have half-done is safe to run again here.
import { existsSync } from "node:fs";
import { processIO } from "../cni/process-io.ts";
import { describe } from "../errors/errors.ts";
import { callAgent } from "./client.ts";
import { agentSocket } from "./protocol.ts";

/** `code` when the agent answered; otherwise the stdin already read, if any, for the local run. */
export type Forwarded = { readonly code: number } | { readonly code?: undefined; readonly stdin?: string };

export async function forwardToAgent(): Promise<Forwarded> {
  const io = processIO();
  const socket = agentSocket(io.env);
  if (io.env["CNI_COMMAND"] === "VERSION" || socket === "" || !existsSync(socket)) return {};
  const stdin = await io.readStdin();
  try {
    const answer = await callAgent(socket, { env: definedOnly(io.env), stdin });
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

function definedOnly(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
