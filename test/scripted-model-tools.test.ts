/**
 * The scripted model calls tools in the dialect the request offers: the tool
 * lists are those real servers sent (test/fixtures/<version>/model-tools.json,
 * names and parameter names of a real chat request's `tools`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scripts, type ToolCallSpec } from "../src/scripted-model/scripts.js";
import { offeredTools, speakTools } from "../src/scripted-model/tools.js";
import { FIXTURES } from "./support/fixtures.js";

const offered = (version: string) =>
  offeredTools(JSON.parse(readFileSync(join(FIXTURES, version, "model-tools.json"), "utf8")) as unknown);
const v1 = offered("1.18.33");
const v2 = offered("2.1.2");
const allCalls: ToolCallSpec[] = Object.values(scripts).flatMap((s) => s.flatMap((step) => (step.kind === "stream" ? (step.toolCalls ?? []) : [])));

describe("the scripted model's tool dialect", () => {
  it("leaves every scripted call unchanged for 1.x's tools and for a request without tools", () => {
    for (const call of allCalls) {
      expect(speakTools(call, v1)).toBe(call);
      expect(speakTools(call, offeredTools(undefined))).toBe(call);
    }
  });

  it("calls only tools 2.x offers, with only the fields it declares", () => {
    for (const call of allCalls) {
      const spoken = speakTools(call, v2);
      const fields = v2.get(spoken.name);
      expect(fields, `${call.name} → ${spoken.name}`).toBeDefined();
      for (const k of Object.keys(spoken.arguments)) expect(fields?.has(k), `${spoken.name}.${k}`).toBe(true);
    }
  });

  it("renames bash → shell{command}, read{filePath} → read{path}, task → subagent{agent,description,prompt}", () => {
    expect(speakTools({ id: "a", name: "bash", arguments: { command: "echo x", description: "d" } }, v2)).toEqual({
      id: "a",
      name: "shell",
      arguments: { command: "echo x" },
    });
    expect(speakTools({ id: "b", name: "read", arguments: { filePath: "f.txt" } }, v2)).toEqual({
      id: "b",
      name: "read",
      arguments: { path: "f.txt" },
    });
    expect(
      speakTools({ id: "c", name: "task", arguments: { description: "d", prompt: "p", subagent_type: "general" } }, v2),
    ).toEqual({ id: "c", name: "subagent", arguments: { agent: "general", description: "d", prompt: "p" } });
    const q = allCalls.find((c) => c.name === "question");
    expect(q && speakTools(q, v2)).toBe(q);
  });
});
