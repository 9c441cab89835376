/**
 * The scripts call tools by OpenCode 1.x's names (`bash{command}`,
 * `read{filePath}`, `task{description,prompt,subagent_type}`). OpenCode 2.x
 * offers the model other names and fields (`shell{command}`, `read{path}`,
 * `subagent{agent,description,prompt}`; seen in the `tools` of its chat requests)
 * and refuses a call of a tool it did not offer ("No tool named bash"). So a call
 * is spoken in the dialect of the tools the request offers: unchanged when the
 * request offers the scripted name with the scripted fields (1.x; or no tools at
 * all), renamed when it offers the 2.x equivalent.
 */
import type { ToolCallSpec } from "./scripts.js";

/** Offered tool name → its parameter names, from a chat request's `tools`. */
export type OfferedTools = ReadonlyMap<string, ReadonlySet<string>>;

export function offeredTools(tools: unknown): OfferedTools {
  const out = new Map<string, Set<string>>();
  if (!Array.isArray(tools)) return out;
  for (const t of tools) {
    const fn = (t as { function?: { name?: unknown; parameters?: { properties?: unknown } } } | null)?.function;
    if (typeof fn?.name !== "string") continue;
    const props = fn.parameters?.properties;
    out.set(fn.name, new Set(typeof props === "object" && props !== null ? Object.keys(props) : []));
  }
  return out;
}

/** A 1.x call's 2.x form, for the calls whose tool 2.x renamed or reshaped. */
function toV2(call: ToolCallSpec): ToolCallSpec | undefined {
  const a = call.arguments;
  switch (call.name) {
    case "bash":
      return { id: call.id, name: "shell", arguments: { command: a.command } };
    case "read": {
      const { filePath, ...rest } = a;
      return { id: call.id, name: "read", arguments: { path: filePath, ...rest } };
    }
    case "task":
      return {
        id: call.id,
        name: "subagent",
        arguments: { agent: a.subagent_type, description: a.description, prompt: a.prompt },
      };
    default:
      return undefined;
  }
}

/** `call` as the offered tools take it. */
export function speakTools(call: ToolCallSpec, offered: OfferedTools): ToolCallSpec {
  if (offered.size === 0) return call;
  const fields = offered.get(call.name);
  const scripted = Object.keys(call.arguments);
  if (fields !== undefined && scripted.every((k) => fields.has(k))) return call;
  const v2 = toV2(call);
  if (v2 === undefined) return call;
  const v2Fields = offered.get(v2.name);
  return v2Fields !== undefined ? v2 : call;
}
