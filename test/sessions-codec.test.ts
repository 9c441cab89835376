/**
 * Issue 13 in the codec: precise error codes from real captures, and the dialects
 * (`field: "reasoning"` deltas, `session.next.*`, model/agent on `final`).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { describeServerError, withoutStack } from "../src/codec/mappers.js";
import { replaySync } from "../src/codec/replay.js";
import { contractViolations } from "../src/codec/reply.js";

const pending = (version: string, name: string) => readFileSync(new URL(`./fixtures-pending/${version}/${name}`, import.meta.url), "utf8");

describe("error codes", () => {
  it("a missing project directory (1.18.33, captured) ends not_found without the stack trace", () => {
    const r = replaySync([pending("1.18.33", "probe-missing-directory.sse")], { traceId: "t" });
    const last = r.replies[r.replies.length - 1];
    expect(last).toMatchObject({ kind: "error", code: "not_found" });
    const msg = last?.kind === "error" ? last.error : "";
    expect(msg).toContain("FileSystem.realPath");
    expect(msg).toContain("ENOENT: no such file or directory");
    expect(msg).not.toMatch(/\bat .*\$bunfs|\n/);
    expect(contractViolations(r.replies)).toEqual([]);
  });

  it("provider errors stay upstream, OpenCode's own failures are server", () => {
    expect(describeServerError({ name: "APIError", data: { message: "Unauthorized", statusCode: 401 } }).code).toBe("upstream");
    expect(describeServerError({ name: "ProviderAuthError", data: { message: "bad key", providerID: "x" } }).code).toBe("upstream");
    expect(describeServerError({ name: "UnknownError", data: { message: "Unexpected server error" } }).code).toBe("server");
    expect(describeServerError({ name: "MessageAbortedError", data: { message: "aborted" } }).code).toBe("aborted");
  });

  it("drops stack frames and keeps the server's words and causes", () => {
    const raw = "PlatformError: NotFound: FileSystem.realPath (/x)\n    at a (/$bunfs/root/chunk.js:1:2)\n    at <anonymous>\n  [cause]: Error: ENOENT: no such file";
    expect(withoutStack(raw)).toBe("PlatformError: NotFound: FileSystem.realPath (/x) [cause]: Error: ENOENT: no such file");
  });
});

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");

describe("dialects", () => {
  it('SYNTHETIC: `field: "reasoning"` deltas (no checked server sends them, docs/dialects.md) give the same replies as the captured field:"text" ones', () => {
    // Derived from the real 1.18.33 reasoning capture: every delta of a reasoning part is relabelled field:"reasoning".
    const sse = fixture("1.18.33/reasoning.sse");
    const reasoningParts = new Set<string>();
    for (const m of sse.matchAll(/"part":\{[^]*?"type":"reasoning"[^]*?\}/g)) {
      const id = /"id":"(prt_[^"]+)"/.exec(m[0])?.[1];
      if (id) reasoningParts.add(id);
    }
    expect(reasoningParts.size).toBeGreaterThan(0);
    let relabelled = 0;
    const synthetic = sse
      .split("\n")
      .map((line) => {
        const pid = /"partID":"(prt_[^"]+)"/.exec(line)?.[1];
        if (line.includes('"type":"message.part.delta"') && pid && reasoningParts.has(pid)) {
          relabelled++;
          return line.replace('"field":"text"', '"field":"reasoning"');
        }
        return line;
      })
      .join("\n");
    expect(relabelled).toBeGreaterThan(0);
    const real = replaySync([sse], { traceId: "t" }).replies;
    const syn = replaySync([synthetic], { traceId: "t" }).replies;
    expect(syn).toEqual(real);
    expect(syn.some((r) => r.kind === "reasoning")).toBe(true);
  });

  it('SYNTHETIC: a field:"reasoning" delta of a part never typed is reasoning, not answer text', () => {
    const sse = fixture("1.18.33/text.sse");
    const assistant = /"info":\{"id":"(msg_[^"]+)"[^}]*?"role":"assistant"|"role":"assistant"[^}]*?"id":"(msg_[^"]+)"/.exec(sse);
    const messageID = assistant?.[1] ?? assistant?.[2] ?? "";
    const session = /"sessionID":"(ses_[^"]+)"/.exec(sse)?.[1] ?? "";
    expect(messageID).toMatch(/^msg_/);
    const lines = sse.split("\n");
    const firstDelta = lines.findIndex((l) => l.includes('"type":"message.part.delta"'));
    const injected = `data: ${JSON.stringify({ type: "message.part.delta", properties: { sessionID: session, messageID, partID: "prt_synthetic_reasoning", field: "reasoning", delta: "thinking…" } })}`;
    lines.splice(firstDelta, 0, injected, "");
    const replies = replaySync([lines.join("\n")], { traceId: "t" }).replies;
    expect(replies.filter((r) => r.kind === "reasoning").map((r) => (r as { content: string }).content).join("")).toBe("thinking…");
    const final = replies.at(-1);
    expect(final?.kind === "final" && final.content).not.toContain("thinking");
    expect(contractViolations(replies)).toEqual([]);
  });

  it("final carries the model and agent in effect (1.15.13 capture: session.next.*.switched and message info agree)", () => {
    for (const v of ["1.2.27", "1.15.13", "1.18.33"]) {
      const r = replaySync([fixture(`${v}/text.sse`)], { traceId: "t" }).replies;
      expect(r.at(-1)).toMatchObject({ kind: "final", model: "scripted/scripted-model", agent: "build" });
    }
  });

  it("session.next.model.switched alone sets the model (the 1.15.13 capture, its messages' model fields removed)", () => {
    // Derived from the real capture, edited as parsed JSON: the switched event names another model, messages name none.
    const sse = fixture("1.15.13/text.sse")
      .split("\n")
      .map((line) => {
        if (!line.startsWith("data: ")) return line;
        const e = JSON.parse(line.slice(6)) as { type: string; properties: { model?: { id: string }; info?: unknown } };
        if (e.type === "session.next.model.switched" && e.properties.model) e.properties.model.id = "switched-model";
        if (e.type === "message.updated") {
          const info = e.properties.info as Record<string, unknown>;
          delete info.model;
          delete info.modelID;
          delete info.providerID;
        }
        return `data: ${JSON.stringify(e)}`;
      })
      .join("\n");
    expect(sse).toContain("switched-model");
    const sid = /"sessionID":"(ses_[^"]+)"/.exec(sse)?.[1];
    const r = replaySync([sse], { traceId: "t", sessionId: sid }).replies;
    expect(r.at(-1)).toMatchObject({ kind: "final", model: "scripted/switched-model", agent: "build" });
  });

  it("session.next.* with message.part.* (1.15.13 experimental captures): deduplicated, the replies are message.part's", () => {
    for (const name of ["mixed-experimental", "tool-error-experimental"]) {
      const sse = fixture(`1.15.13/${name}.sse`);
      expect(sse).toContain("session.next.tool.called");
      const withoutNext = sse.split("\n").filter((l) => !l.includes('"type":"session.next.')).join("\n");
      expect(replaySync([sse], { traceId: "t" }).replies).toEqual(replaySync([withoutNext], { traceId: "t" }).replies);
    }
  });

  it("session.next.* alone (the 1.15.13 capture with its assistant message.part.* events removed) gives the turn's text, reasoning and tool", () => {
    const sse = fixture("1.15.13/mixed-experimental.sse");
    const assistant = new Set<string>();
    for (const l of sse.split("\n")) {
      if (!l.startsWith("data: ")) continue;
      const e = JSON.parse(l.slice(6)) as { type: string; properties: { info?: { id: string; role: string } } };
      if (e.type === "message.updated" && e.properties.info?.role === "assistant") assistant.add(e.properties.info.id);
    }
    const nextOnly = sse
      .split("\n")
      .filter((l) => {
        if (!l.startsWith("data: ")) return true;
        const e = JSON.parse(l.slice(6)) as { type: string; properties: { messageID?: string; part?: { messageID: string } } };
        if (e.type !== "message.part.delta" && e.type !== "message.part.updated") return true;
        return !assistant.has(e.properties.messageID ?? e.properties.part?.messageID ?? "");
      })
      .join("\n");
    const full = replaySync([sse], { traceId: "t" }).replies;
    const next = replaySync([nextOnly], { traceId: "t" }).replies;
    expect(contractViolations(next)).toEqual([]);
    const pick = (rs: typeof full) =>
      rs.map((r) =>
        r.kind === "delta" || r.kind === "reasoning"
          ? `${r.kind}:${r.content}`
          : r.kind === "tool_call"
            ? `call:${r.call_id}:${JSON.stringify(r.input)}`
            : r.kind === "tool_result"
              ? `result:${r.call_id}:${r.status}:${r.output ?? r.error}`
              : r.kind === "final"
                ? `final:${r.content}`
                : r.kind,
      );
    const join = (xs: string[]) => xs.join("|");
    // The same content, whole parts instead of deltas.
    expect(next.at(-1)).toMatchObject({ kind: "final", content: "Running a command.The command printed mixed-ok." });
    expect(pick(next)).toContain("call:call_mixed_1:" + JSON.stringify({ command: "echo mixed-ok", description: "Echo" }));
    expect(pick(next)).toContain("result:call_mixed_1:completed:mixed-ok\n");
    expect(join(pick(next).filter((x) => x.startsWith("reasoning:")))).toBe("reasoning:I should run a command first.|reasoning:It worked.");
    expect(full.at(-1)).toMatchObject({ kind: "final", content: "Running a command.The command printed mixed-ok." });
  });
});
