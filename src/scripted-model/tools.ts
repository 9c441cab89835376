/**
 * The scripts call tools by OpenCode 1.x's names (`bash{command}`,
 * `read{filePath}`, `task{description,prompt,subagent_type}`). Other agents offer
 * the model other names and fields, and refuse a call of a tool they did not offer
 * ("No tool named bash"): OpenCode 2.x `shell{command}`, `read{path}`,
 * `subagent{agent,description,prompt}`; Claude Code `Bash{command,description}`,
 * `Read{file_path}`, `Agent`/`Task{description,prompt,subagent_type}`; Codex
 * `exec_command{cmd}` (each seen in the `tools` of their real requests). So a call is
 * spoken in the dialect of the tools the request offers: unchanged when the request
 * offers the scripted name with the scripted fields (1.x; or no tools at all),
 * renamed when it offers an equivalent.
 */
import type { ToolCallSpec } from "./scripts.js";

/** Offered tool name → its parameter names, from a request's `tools`. */
export type OfferedTools = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * The tools of a chat-completions request (`{function:{name,parameters}}`), an
 * Anthropic Messages request (`{name,input_schema}`) or a Responses request
 * (`{type:"function",name,parameters}`).
 */
export function offeredTools(tools: unknown): OfferedTools {
  const out = new Map<string, Set<string>>();
  if (!Array.isArray(tools)) return out;
  for (const t of tools) {
    const o = t as { name?: unknown; parameters?: { properties?: unknown }; input_schema?: { properties?: unknown } } | null;
    const fn = (t as { function?: { name?: unknown; parameters?: { properties?: unknown } } } | null)?.function;
    const name = typeof fn?.name === "string" ? fn.name : o?.name;
    if (typeof name !== "string") continue;
    const props = fn?.parameters?.properties ?? o?.parameters?.properties ?? o?.input_schema?.properties;
    out.set(name, new Set(typeof props === "object" && props !== null ? Object.keys(props) : []));
  }
  return out;
}

type Args = Readonly<Record<string, unknown>>;
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** OpenCode 2.x's, Claude Code's and Codex's tools for the scripted ones, tried in order. */
const EQUIVALENTS: Readonly<Record<string, readonly { name: string; args: (a: Args) => Record<string, unknown> }[]>> = {
  bash: [
    { name: "shell", args: (a) => ({ command: a.command }) },
    { name: "Bash", args: (a) => ({ command: str(a.command), description: str(a.description) }) },
    { name: "exec_command", args: (a) => ({ cmd: str(a.command) }) },
  ],
  read: [
    { name: "read", args: ({ filePath, ...rest }) => ({ path: filePath, ...rest }) },
    { name: "Read", args: (a) => ({ file_path: str(a.filePath) }) },
    // Codex has no read tool: a command that reads the file fails the same way for a missing one.
    { name: "exec_command", args: (a) => ({ cmd: `cat ${str(a.filePath)}` }) },
  ],
  task: [
    { name: "subagent", args: (a) => ({ agent: a.subagent_type, description: a.description, prompt: a.prompt }) },
    // Claude Code: a background subagent would report its final text twice.
    ...["Agent", "Task"].map((name) => ({
      name,
      args: (a: Args) => ({ description: str(a.description), prompt: str(a.prompt), subagent_type: "general-purpose", run_in_background: false }),
    })),
  ],
};

/** `call` as the offered tools take it. */
export function speakTools(call: ToolCallSpec, offered: OfferedTools): ToolCallSpec {
  if (offered.size === 0) return call;
  const fields = offered.get(call.name);
  const scripted = Object.keys(call.arguments);
  if (fields !== undefined && scripted.every((k) => fields.has(k))) return call;
  for (const eq of EQUIVALENTS[call.name] ?? []) {
    if (offered.has(eq.name)) return { id: call.id, name: eq.name, arguments: eq.args(call.arguments) };
  }
  return call;
}

/**
 * The call an agent's request gets: `call` spoken in its dialect, or nothing when
 * the request offers no such tool — a side request (a title, a summary) offers no
 * tools at all and gets the step's text only.
 */
export function agentToolCall(call: ToolCallSpec, offered: OfferedTools): ToolCallSpec | undefined {
  const spoken = speakTools(call, offered);
  return offered.has(spoken.name) ? spoken : undefined;
}
