/**
 * `opencode-bridge/scripted-model`: the offline scripted model, for trying the
 * bridge and for tests of an embedding host without an API key.
 */
export { startScriptedModel, planRequest, type ScriptedModel, type ScriptedModelOptions, type ScriptedModelRequest } from "./server.js";
export { scripts, selectScript, defaultScript, type Script, type Step, type ToolCallSpec } from "./scripts.js";
export { startScriptedOpencode, type ScriptedOpencode, type ScriptedOpencodeOptions } from "./opencode.js";
export {
  createScriptedProject,
  SCRIPTED_MODEL,
  SCRIPTED_PROVIDER,
  type PermissionAction,
  type ScriptedProject,
  type ScriptedProjectOptions,
} from "../server/scripted-project.js";
export { SCENARIOS, scenarioList } from "./scenarios.js";
