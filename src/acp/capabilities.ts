/**
 * What a backend can do, for hosts that adapt their UI (issue 22): one shape for
 * every backend. For an ACP agent the session and prompt capabilities come from its
 * `initialize` answer; the rest is what the ACP backend itself does.
 */
import type { InitializeResponse } from "@agentclientprotocol/sdk";

export interface BackendCapabilities {
  readonly backend: "opencode-http" | "acp";
  /** The agent's name and version, once known. */
  readonly agent?: { readonly name: string; readonly version?: string };
  /** `reasoning` replies (when the agent streams its thoughts). */
  readonly reasoning: boolean;
  /** `tool_result` replies carry the tool's output. */
  readonly toolOutput: boolean;
  /** Permission requests reach the host (`BridgeRequest` kind `permission`). */
  readonly permissions: boolean;
  /** Questions reach the host (`BridgeRequest` kind `question`). */
  readonly questions: boolean;
  /** A rejection's message reaches the model. */
  readonly rejectMessage: boolean;
  /** A session can be continued by id on a new agent process: `load` (history replayed), `resume` (not). Undefined: not known yet. */
  readonly sessionLoad?: boolean;
  readonly sessionResume?: boolean;
  /** Images in a prompt. Undefined: not known yet. */
  readonly images?: boolean;
  /** Token usage on `final`, and cost. */
  readonly usage: boolean;
  readonly cost: boolean;
  /** The host can abort a turn. */
  readonly abort: boolean;
  /** The agent's own filesystem and terminal calls to the client (`fs/*`, `terminal/*`): never offered. */
  readonly clientFs: false;
  readonly clientTerminal: false;
}

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
    clientFs: false,
    clientTerminal: false,
  };
}
