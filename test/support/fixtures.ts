/**
 * Loading captured fixtures, and what the server's own record
 * (`GET /session/:id/message`, saved next to each capture) says a turn produced.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Reply } from "../../src/codec/reply.js";
import { stripTags } from "../../src/codec/tags.js";

export const FIXTURES = join(import.meta.dirname, "..", "fixtures");

export interface Fixture {
  readonly version: string;
  readonly scenario: string;
  readonly name: string;
  readonly sse: Buffer;
  readonly golden: Reply[];
  readonly record: Record<string, RecordMessage[]>;
}

export interface RecordPart {
  type: string;
  id: string;
  text?: string;
  callID?: string;
  tool?: string;
  synthetic?: boolean;
  state?: { status: string; input?: unknown; output?: unknown; error?: unknown };
}

export interface RecordMessage {
  info: { id: string; role: string; parentID?: string; error?: { name?: string; data?: { message?: string } } };
  parts: RecordPart[];
}

/** The OpenCode line of a fixture directory (`2.1.2` → 2): 2.x streams are `/api/event`, read by src/codec/v2. */
export function fixtureLine(version: string): 1 | 2 {
  return Number.parseInt(version, 10) >= 2 ? 2 : 1;
}

/** The captures of one line (default 1.x: `/event` streams the codec reads directly). */
export function loadFixtures(line: 1 | 2 = 1): Fixture[] {
  const out: Fixture[] = [];
  for (const version of readdirSync(FIXTURES).sort()) {
    if (fixtureLine(version) !== line) continue;
    const dir = join(FIXTURES, version);
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".sse")).sort()) {
      const scenario = f.slice(0, -4);
      const jsonl = join(dir, `${scenario}.jsonl`);
      out.push({
        version,
        scenario,
        name: `${version}/${scenario}`,
        sse: readFileSync(join(dir, f)),
        golden: existsSync(jsonl)
          ? readFileSync(jsonl, "utf8")
              .split("\n")
              .filter((l) => l !== "")
              .map((l) => JSON.parse(l) as Reply)
          : [],
        record: JSON.parse(readFileSync(join(dir, `${scenario}.messages.json`), "utf8")) as Record<
          string,
          RecordMessage[]
        >,
      });
    }
  }
  return out;
}

export interface RecordedTurn {
  /** Answer text of each text part, in order, tags removed. */
  readonly texts: { id: string; text: string }[];
  readonly reasoning: { id: string; text: string }[];
  readonly tools: { callID: string; tool: string; status: string; input: unknown; output?: unknown; error?: unknown }[];
  readonly error: string | undefined;
}

/** What the server recorded for the first turn of a session. */
export function recordedTurn(messages: RecordMessage[]): RecordedTurn {
  const user = messages.find((m) => m.info.role === "user");
  const turn = messages.filter((m) => m.info.role === "assistant" && m.info.parentID === user?.info.id);
  const texts: RecordedTurn["texts"] = [];
  const reasoning: RecordedTurn["reasoning"] = [];
  const tools: RecordedTurn["tools"] = [];
  let error: string | undefined;
  for (const m of turn) {
    if (m.info.error && error === undefined) error = m.info.error.data?.message ?? m.info.error.name;
    for (const p of m.parts) {
      if (p.type === "text" && !p.synthetic) texts.push({ id: p.id, text: stripTags(p.text ?? "") });
      if (p.type === "reasoning") reasoning.push({ id: p.id, text: p.text ?? "" });
      if (p.type === "tool" && p.state) {
        tools.push({
          callID: p.callID ?? p.id,
          tool: p.tool ?? "",
          status: p.state.status,
          input: p.state.input,
          output: p.state.output,
          error: p.state.error,
        });
      }
    }
  }
  return { texts, reasoning, tools, error };
}

/** Concatenated reply contents per part id, for one kind. */
export function textByPart(replies: readonly Reply[], kind: "delta" | "reasoning"): Map<string, string> {
  const m = new Map<string, string>();
  for (const r of replies) if (r.kind === kind) m.set(r.part_id, (m.get(r.part_id) ?? "") + r.content);
  return m;
}

/** 1.2.x trims a part's finished text: streamed and recorded text may differ by surrounding white space only. */
export function sameText(streamed: string, recorded: string): boolean {
  return streamed === recorded || streamed.trim() === recorded.trim();
}

/** A deterministic PRNG (mulberry32) for the random-split tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Split bytes at random offsets (chunks of 1..maxChunk bytes). */
export function randomSplit(buf: Uint8Array, seed: number, maxChunk = 97): Uint8Array[] {
  const rnd = prng(seed);
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < buf.length) {
    const n = 1 + Math.floor(rnd() * maxChunk);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

export function oneByteChunks(buf: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
  return out;
}

/** The same stream framed with CRLF line endings (JSON data never holds a raw newline). */
export function toCrlf(buf: Buffer): Buffer {
  return Buffer.from(buf.toString("utf8").replace(/\n/g, "\r\n"), "utf8");
}
