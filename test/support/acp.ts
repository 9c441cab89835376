/**
 * A real ACP agent wired offline to the scripted model, for end-to-end tests:
 * the model on loopback, the agent's project and isolated home (src/acp/scripted.ts),
 * and the command from the per-user cache (installed by the global setup).
 */
import { startScriptedModel, type ScriptedModel } from "../../src/scripted-model/server.js";
import { ensureOpencode, PINNED_OPENCODE2_VERSION } from "../../src/server/install.js";
import { ensureAgent } from "../../src/acp/install.js";
import { createScriptedAgent, type ScriptedAgent, type ScriptedAgentName } from "../../src/acp/scripted.js";
import { E2E_VERSION } from "./live.js";

/** The scripted agents, and `opencode2`: `opencode acp` of the pinned 2.x line, wired like 1.x's. */
export type LiveAgentName = ScriptedAgentName | "opencode2";

export interface LiveAgent {
  readonly name: LiveAgentName;
  readonly model: ScriptedModel;
  readonly agent: ScriptedAgent;
  stop(): Promise<void>;
}

export async function agentCommand(name: LiveAgentName): Promise<readonly string[]> {
  if (name === "opencode2") return [await ensureOpencode(PINNED_OPENCODE2_VERSION), "acp"];
  return name === "opencode" ? [await ensureOpencode(E2E_VERSION), "acp"] : ensureAgent(name);
}

export async function startLiveAgent(name: LiveAgentName, permission: "allow" | "ask" = "ask"): Promise<LiveAgent> {
  const model = await startScriptedModel();
  const agent = await createScriptedAgent(name === "opencode2" ? "opencode" : name, { modelPort: model.port, command: await agentCommand(name), permission });
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
