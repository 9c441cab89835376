/**
 * A real ACP agent wired offline to the scripted model, for end-to-end tests:
 * the model on loopback, the agent's project and isolated home (src/acp/scripted.ts),
 * and the command from the per-user cache (installed by the global setup).
 */
import { startScriptedModel, type ScriptedModel } from "../../src/scripted-model/server.js";
import { ensureOpencode } from "../../src/server/install.js";
import { ensureAgent } from "../../src/acp/install.js";
import { createScriptedAgent, type ScriptedAgent, type ScriptedAgentName } from "../../src/acp/scripted.js";
import { E2E_VERSION } from "./live.js";

export interface LiveAgent {
  readonly name: ScriptedAgentName;
  readonly model: ScriptedModel;
  readonly agent: ScriptedAgent;
  stop(): Promise<void>;
}

export async function agentCommand(name: ScriptedAgentName): Promise<readonly string[]> {
  return name === "opencode" ? [await ensureOpencode(E2E_VERSION), "acp"] : ensureAgent(name);
}

export async function startLiveAgent(name: ScriptedAgentName, permission: "allow" | "ask" = "ask"): Promise<LiveAgent> {
  const model = await startScriptedModel();
  const agent = await createScriptedAgent(name, { modelPort: model.port, command: await agentCommand(name), permission });
  return {
    name,
    model,
    agent,
    stop: async () => {
      await model.close();
      await agent.cleanup();
    },
  };
}
