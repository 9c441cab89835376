/**
 * `opencode-bridge/acp`: ACP agents (`opencode acp`, Claude Code through
 * claude-agent-acp, Codex through codex-acp, any agent speaking ACP v1 on stdio)
 * behind the same replies, requests and turn results as OpenCode's HTTP API.
 * Kept small (the front door's rule): the backend, its capabilities, replaying a
 * capture, the agent installs and the offline scripted agents. The pure codec,
 * command parsing and request mapping stay internal.
 */
export { AcpAdapter, type AcpAdapterConfig } from "./adapter.js";
export { type BackendCapabilities } from "./capabilities.js";
export { replayAcpCapture, parseCapture, type AcpReplay } from "./replay.js";
export { ensureAgent, type AcpAgentName, type AgentInstallOptions } from "./install.js";
export { createScriptedAgent, type ScriptedAgent, type ScriptedAgentOptions } from "./scripted.js";
