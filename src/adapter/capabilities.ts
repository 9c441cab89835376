/**
 * What a backend can do, for hosts that adapt their UI (issue 22): one shape for
 * every backend — OpenCode's HTTP API (1.x and 2.x alike) here, an ACP agent in
 * src/acp/capabilities.ts (from its `initialize` answer). The daemon serves it at
 * `GET /v1/backends`; adapters have it as `capabilities`.
 */
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
  /** Subagents' child sessions followed: their tools and requests are the turn's. */
  readonly childSessions: boolean;
  /** The agent's own filesystem and terminal calls to the client (`fs/*`, `terminal/*`): never offered. */
  readonly clientFs: false;
  readonly clientTerminal: false;
}

/**
 * OpenCode's HTTP API, either line (measured on 1.18.33 and 2.1.2 with the scripted
 * model: test/e2e/*.e2e.test.ts): sessions live on the server, so any session id
 * is continued (`sessionLoad`), and the record is read back (`verifyAtEnd`, repair).
 */
export function opencodeCapabilities(version?: string): BackendCapabilities {
  return {
    backend: "opencode-http",
    ...(version !== undefined ? { agent: { name: "opencode", version } } : {}),
    reasoning: true,
    toolOutput: true,
    permissions: true,
    questions: true,
    rejectMessage: true,
    sessionLoad: true,
    sessionResume: true,
    images: true,
    usage: true,
    cost: true,
    abort: true,
    childSessions: true,
    clientFs: false,
    clientTerminal: false,
  };
}
