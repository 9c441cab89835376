/**
 * The scripts name their tools the way OpenCode 1.x offers them (`bash{command}`,
 * `read{filePath}`, `task{…}`). Other agents offer the same tools under other names
 * and argument shapes; the scripted model reads the tool list of each request and
 * plays each scripted call with the tool that agent offers for the same job, so one
 * scenario runs on every agent.
 */
import type { ToolCallSpec } from "./scripts.js";

type Args = Readonly<Record<string, unknown>>;

interface Equivalent {
  readonly name: string;
  readonly args: (a: Args) => Record<string, unknown>;
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** For each scripted tool, the equivalents other agents offer, tried in order. */
const EQUIVALENTS: Readonly<Record<string, readonly Equivalent[]>> = {
  bash: [
    // Claude Code.
    { name: "Bash", args: (a) => ({ command: str(a.command), description: str(a.description) }) },
    // Codex.
    { name: "exec_command", args: (a) => ({ cmd: str(a.command) }) },
    { name: "shell_command", args: (a) => ({ command: str(a.command) }) },
    { name: "shell", args: (a) => ({ command: ["bash", "-lc", str(a.command)] }) },
  ],
  read: [
    { name: "Read", args: (a) => ({ file_path: str(a.filePath) }) },
    // Codex has no read tool: a command that reads the file fails the same way.
    { name: "exec_command", args: (a) => ({ cmd: `cat ${str(a.filePath)}` }) },
  ],
  task: [
    // Claude Code: a background subagent would report its final text twice.
    ...["Agent", "Task"].map((name) => ({
      name,
      args: (a: Args) => ({
        description: str(a.description),
        prompt: str(a.prompt),
        subagent_type: "general-purpose",
        run_in_background: false,
      }),
    })),
  ],
};

/**
 * The call to play for `call` given the tool names the request offers: the scripted
 * name when it is offered (OpenCode), else the first offered equivalent, else
 * undefined (a side request that offers no tools — a title, a summary — gets text only).
 */
export function adaptToolCall(call: ToolCallSpec, offered: ReadonlySet<string>): ToolCallSpec | undefined {
  if (offered.has(call.name)) return call;
  for (const eq of EQUIVALENTS[call.name] ?? []) {
    if (offered.has(eq.name)) return { id: call.id, name: eq.name, arguments: eq.args(call.arguments) };
  }
  return undefined;
}

/** The names of the tools a request offers (`tools[].name`, or `tools[].function.name` in chat completions). */
export function offeredTools(tools: unknown): Set<string> {
  const out = new Set<string>();
  if (!Array.isArray(tools)) return out;
  for (const t of tools as unknown[]) {
    if (typeof t !== "object" || t === null) continue;
    const o = t as { name?: unknown; function?: { name?: unknown } };
    if (typeof o.name === "string") out.add(o.name);
    else if (typeof o.function?.name === "string") out.add(o.function.name);
  }
  return out;
}
