/**
 * What an ACP agent can do, in the one shape of every backend (src/adapter/capabilities.ts):
 * the session and prompt capabilities come from its `initialize` answer; the rest is
 * what the ACP backend itself does.
 */
import type { InitializeResponse } from "@agentclientprotocol/sdk";
import type { BackendCapabilities } from "../adapter/capabilities.js";

export type { BackendCapabilities } from "../adapter/capabilities.js";

/** The ACP backend's capabilities, given the agent's `initialize` answer once it has started. */
export function capabilitiesOf(init: InitializeResponse | undefined): BackendCapabilities {
  const caps = init?.agentCapabilities;
  return {
    backend: "acp",
    ...(init?.agentInfo ? { agent: { name: init.agentInfo.name, version: init.agentInfo.version } } : {}),
    reasoning: true,
    toolOutput: true,
    permissions: true,
    questions: false,
    rejectMessage: false,
    ...(init ? { sessionLoad: caps?.loadSession === true, sessionResume: caps?.sessionCapabilities?.resume != null, images: caps?.promptCapabilities?.image === true } : {}),
    usage: true,
    cost: true,
    abort: true,
    // A subagent's permissions come as the parent session's; its own session is not followed apart.
    childSessions: false,
    clientFs: false,
    clientTerminal: false,
  };
}
