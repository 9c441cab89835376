/**
 * Captures the ACP traffic of a real agent running one scripted scenario:
 *
 *   npx tsx scripts/capture-acp.ts <opencode|claude|codex> <scenario> [allow|reject] [--out FILE]
 *
 * Starts the scripted model, the agent wired to it offline (src/acp/scripted.ts),
 * runs initialize → session/new → session/prompt, answers a permission request as
 * told, and writes every JSON-RPC message (`{"dir":"in"|"out","msg":…}` per line)
 * to test/fixtures/acp/<agent>/<scenario>[-<answer>].jsonl. Session ids, paths and
 * timestamps are left as the agent sent them: the replay reads them as they are.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { PROTOCOL_VERSION, type AnyMessage } from "@agentclientprotocol/sdk";
import { startScriptedModel } from "../src/scripted-model/server.js";
import { ensureOpencode } from "../src/server/install.js";
import { ensureAgent } from "../src/acp/install.js";
import { createScriptedAgent, type ScriptedAgentName } from "../src/acp/scripted.js";
import { spawnAgent } from "../src/acp/process.js";

const [agentArg, scenario = "text", answer = "allow"] = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && all[i - 1] !== "--out");
const outIdx = process.argv.indexOf("--out");
const agent = agentArg as ScriptedAgentName;
if (!["opencode", "claude", "codex"].includes(agent)) {
  console.error("usage: capture-acp.ts <opencode|claude|codex> <scenario> [allow|reject] [--out FILE]");
  process.exit(2);
}

const model = await startScriptedModel();
const command = agent === "opencode" ? [await ensureOpencode(), "acp"] : await ensureAgent(agent);
const setup = await createScriptedAgent(agent, { modelPort: model.port, command, permission: "ask" });
const lines: string[] = [];
const started = Date.now();
const proc = spawnAgent(
  setup.command,
  {
    update: () => {},
    permission: async (params) => {
      const kind = answer === "reject" ? "reject_once" : "allow_once";
      const opt = params.options.find((o) => o.kind === kind) ?? params.options[0];
      return { outcome: { outcome: "selected", optionId: opt?.optionId ?? "" } };
    },
  },
  {
    cwd: setup.dir,
    env: setup.env,
    onMessage: (dir, msg: AnyMessage) => lines.push(JSON.stringify({ dir, ms: Date.now() - started, msg })),
    onStderr: (l) => process.env.ACP_DEBUG && console.error(`[agent] ${l}`),
  },
);
const deadline = setTimeout(() => {
  console.error("capture: no end within 90 s");
  void finish(1);
}, 90_000);
async function finish(code: number) {
  clearTimeout(deadline);
  await proc.stop();
  await model.close();
  await setup.cleanup();
  const file = outIdx > 0 ? (process.argv[outIdx + 1] ?? "") : join("test", "fixtures", "acp", agent, `${scenario}${answer === "reject" ? "-reject" : ""}.jsonl`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, lines.join("\n") + "\n");
  console.error(`capture: ${lines.length} messages → ${file}; model requests: ${JSON.stringify(model.requests.map((r) => [r.api, r.scenario, r.step, r.tools?.length]))}`);
  process.exit(code);
}
try {
  const agentConn = proc.connection.agent;
  const init = await agentConn.request("initialize", {
    protocolVersion: PROTOCOL_VERSION,
    clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
    clientInfo: { name: "opencode-bridge", version: "capture" },
  });
  console.error(`capture: agent ${JSON.stringify(init.agentInfo)} caps ${JSON.stringify(init.agentCapabilities)}`);
  const session = await agentConn.request("session/new", { cwd: setup.dir, mcpServers: [] });
  const result = await agentConn.request("session/prompt", {
    sessionId: session.sessionId,
    prompt: [{ type: "text", text: `[scenario:${scenario}] Do as the scenario says.` }],
  });
  console.error(`capture: stopReason ${JSON.stringify(result)}`);
  await finish(0);
} catch (err) {
  console.error(`capture: failed: ${(err as Error).message}`);
  await finish(1);
}
