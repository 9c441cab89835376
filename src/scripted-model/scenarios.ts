/**
 * What each built-in scenario of the scripted model does, for help texts and docs.
 * A scenario added to scripts.ts without an entry here is still listed, by name.
 */
import { scripts } from "./scripts.js";

export const SCENARIOS: Readonly<Record<string, string>> = {
  text: "plain answer text",
  reasoning: "reasoning text, then the answer",
  tool: "text, a bash tool call (echo), then text after its result",
  "tool-error": "a read of a missing file: the tool fails, then text",
  "two-tools": "two bash calls in one step, then text",
  "non-ascii": "text cut through multi-byte characters and grapheme clusters",
  "provider-error": "the provider answers HTTP 401 (a bad API key): the turn ends error upstream",
  "provider-500": "the provider answers HTTP 500 to every request: the turn ends error upstream",
  long: "1,200 text chunks",
  "plugin-tag": "text with a plugin's <dcp-message-id> tag cut across chunks (removed by the bridge)",
  permission: "a bash call that needs permission (in a project whose permission is ask)",
  stall: "a little text, then the model stops sending and holds the connection (timeouts)",
  subagent: "the task tool runs a subagent (a child session) that answers, then text",
  retry: "HTTP 503 twice (OpenCode retries), then an answer",
  slow: "200 chunks 10 ms apart (about 2 s; for aborts and cuts)",
  "slow-follow": "60 chunks 300 ms apart (18 s; for a daemon killed and restarted mid-turn)",
  "slow-plugin-tag": "the plugin-tag answer, a chunk every 400 ms (for a daemon killed mid-turn)",
};

/** `  name          description` lines for every scenario scripts.ts defines. */
export function scenarioList(indent = "  "): string {
  const names = Object.keys(scripts);
  const width = Math.max(...names.map((n) => n.length));
  return names.map((n) => `${indent}${n.padEnd(width)}  ${SCENARIOS[n] ?? "(see src/scripted-model/scripts.ts)"}`).join("\n");
}
