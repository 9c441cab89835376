/**
 * `opencode-bridge/scripted-model`: the offline scripted model, for trying the
 * bridge and for tests of an embedding host without an API key.
 */
export { startScriptedOpencode, type ScriptedOpencode, type ScriptedOpencodeOptions } from "./opencode.js";
export { startScriptedModel } from "./server.js";
