/**
 * `opencode-bridge/acp`: ACP agents (`opencode acp`, Claude Code through
 * claude-agent-acp, Codex through codex-acp, any agent speaking ACP v1 on stdio)
 * behind the same replies, requests and turn results as OpenCode's HTTP API.
 */
export { AcpAdapter, type AcpAdapterConfig } from "./adapter.js";
export { capabilitiesOf, type BackendCapabilities } from "./capabilities.js";
export {
  createAcpTurnState,
  mapAcpUpdate,
  finishAcp,
  stopReasonError,
  promptOutcome,
  promptErrorOutcome,
  type AcpTurnState,
  type AcpOutcome,
  type AcpUsage,
  type RpcError,
} from "./codec.js";
export { toBridgeRequest, optionFor } from "./requests.js";
export { replayAcpCapture, parseCapture, type AcpReplay, type CapturedMessage } from "./replay.js";
export { ACP_AGENTS, ensureAgent, cachedAgentCommand, agentCacheDir, type AcpAgentName, type AgentInstallOptions } from "./install.js";
export { resolveAcpCommand } from "./command.js";
export { splitCommand } from "./process.js";
export { createScriptedAgent, type ScriptedAgent, type ScriptedAgentName, type ScriptedAgentOptions } from "./scripted.js";
