/**
 * Synthetic `/event` streams built only from real captured frames.
 *
 * A template is one captured turn (test/fixtures/<version>/<scenario>.sse) split
 * into its frames. An instance of a template is the same frames, byte for byte,
 * with every OpenCode id (`ses_…`, `msg_…`, `prt_…`, `evt_…`) replaced by a fresh
 * id of the same length — so many instances can share one stream as distinct
 * sessions and turns without any new shape being invented. Frames that name no
 * session (server.connected, plugin.added, catalog.updated …) are server-wide:
 * a real server sends them once, not once per turn, so they are kept apart as
 * the template's `globals` and put at most once at the head of a stream.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES } from "../../test/support/fixtures.js";
import type { Reply } from "../../src/codec/reply.js";
import { sessionOfPayload } from "../../src/cli/replay-sessions.js";

/** One frame as it was on the wire, without its terminating blank line. */
export type Frame = string;

export interface Template {
  readonly name: string;
  /** `data: {"type":"server.connected",…}` of the capture. */
  readonly connected: Frame;
  /** Server-wide frames (no session), in capture order, without server.connected. */
  readonly globals: Frame[];
  /** The turn's own frames (its session's), in capture order. */
  readonly turn: Frame[];
  /** The golden replies of the capture (test/fixtures/…/<scenario>.jsonl). */
  readonly golden: Reply[];
}

const ID = /\b(ses|msg|prt|evt)_([0-9A-Za-z]{26})\b/g;
const B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * Split a captured stream into frames; every frame must be one `data:` line of JSON.
 * Comment frames (2.x's `: heartbeat`) name nothing and carry no event: left out.
 */
export function splitFrames(sse: string, what: string): Frame[] {
  const frames = sse.split("\n\n").filter((f) => f.trim() !== "" && !f.startsWith(":"));
  for (const f of frames) {
    if (!f.startsWith("data: ") || f.includes("\n")) {
      throw new Error(`${what}: expected single-line \`data:\` frames, got ${JSON.stringify(f.slice(0, 80))}`);
    }
    JSON.parse(f.slice(6));
  }
  return frames;
}

export function payloadOf(frame: Frame): { type?: string; properties?: Record<string, unknown> } {
  return JSON.parse(frame.slice(6)) as { type?: string; properties?: Record<string, unknown> };
}

/** A capture's golden replies (`<scenario>.jsonl` beside its `.sse`). */
export function readGolden(dir: string, scenario: string): Reply[] {
  return readFileSync(join(dir, `${scenario}.jsonl`), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Reply);
}

export function loadTemplate(version: string, scenario: string): Template {
  return templateOf(version, scenario, (f) => sessionOfPayload(payloadOf(f)));
}

/**
 * A capture split into its `server.connected` frame, the frames of no session and its one
 * session's turn, with its golden replies; `sessionOf` tells a frame's session (1.x and
 * 2.x name it in different places).
 */
export function templateOf(version: string, scenario: string, sessionOf: (frame: Frame) => string | undefined): Template {
  const dir = join(FIXTURES, version);
  const name = `${version}/${scenario}`;
  const golden = readGolden(dir, scenario);
  let connected: Frame | undefined;
  const globals: Frame[] = [];
  const turn: Frame[] = [];
  const sessions = new Set<string>();
  for (const f of splitFrames(readFileSync(join(dir, `${scenario}.sse`), "utf8"), name)) {
    const sid = sessionOf(f);
    if (payloadOf(f).type === "server.connected") connected ??= f;
    else if (sid === undefined) globals.push(f);
    else {
      sessions.add(sid);
      turn.push(f);
    }
  }
  if (connected === undefined) throw new Error(`${name}: no server.connected frame`);
  if (sessions.size !== 1) throw new Error(`${name}: expected one session, found ${[...sessions].join(", ")}`);
  return { name, connected, globals, turn, golden };
}

/**
 * Fresh ids, unique within a process: the id's prefix and its first 12 characters
 * (the server's time-ordered part) are kept, the random rest is replaced by a counter.
 */
export class IdMint {
  private next = 0;

  /** A copy of `frames` with every id replaced consistently (the same old id → the same new id). */
  instance(frames: readonly Frame[], ids = new Map<string, string>()): { frames: Frame[]; ids: Map<string, string> } {
    const out = frames.map((f) =>
      f.replace(ID, (whole: string, prefix: string, rest: string) => {
        let fresh = ids.get(whole);
        if (fresh === undefined) {
          fresh = `${prefix}_${rest.slice(0, 12)}${this.code(14)}`;
          ids.set(whole, fresh);
        }
        return fresh;
      }),
    );
    return { frames: out, ids };
  }

  private code(width: number): string {
    let n = this.next++;
    let s = "";
    for (let i = 0; i < width; i++) {
      s = B62[n % 62] + s;
      n = Math.floor(n / 62);
    }
    return s;
  }
}

/**
 * The server's record of a template's turn (its session's list in
 * `<scenario>.messages.json`: what `GET /session/:id/message` answered after the
 * capture) with the ids of an instance, as JSON text.
 */
export function recordOf(template: Template, ids: Map<string, string>): string {
  const bySession = JSON.parse(readFileSync(join(FIXTURES, `${template.name}.messages.json`), "utf8")) as Record<string, unknown>;
  const messages = bySession[sessionOfTemplate(template)];
  if (!Array.isArray(messages)) throw new Error(`${template.name}.messages.json: no record of the turn's session`);
  return JSON.stringify(messages).replace(ID, (whole: string) => ids.get(whole) ?? whole);
}

/** The session id of a template's turn (as captured). */
export function sessionOfTemplate(template: Template): string {
  const sid = sessionOfPayload(payloadOf(template.turn[0] as Frame));
  if (sid === undefined) throw new Error(`${template.name}: no session id in the first turn frame`);
  return sid;
}

/** The session id an instance's frames belong to (its `ses_…` id). */
export function sessionOfInstance(template: Template, ids: Map<string, string>): string {
  const sid = sessionOfPayload(payloadOf(template.turn[0] as Frame));
  const fresh = sid === undefined ? undefined : ids.get(sid);
  if (fresh === undefined) throw new Error(`${template.name}: no session id in the first turn frame`);
  return fresh;
}

/**
 * Merge frame sequences so that each is spread evenly over the result (the order
 * within each sequence is kept): what concurrent turns look like on one stream.
 */
export function spread(seqs: readonly (readonly Frame[])[]): Frame[] {
  const keyed: { key: number; seq: number; frame: Frame }[] = [];
  seqs.forEach((s, si) => s.forEach((frame, i) => keyed.push({ key: (i + 0.5) / s.length, seq: si, frame })));
  keyed.sort((a, b) => a.key - b.key || a.seq - b.seq);
  return keyed.map((k) => k.frame);
}

/** Round-robin merge: frame k of every lane, then frame k+1 … (lanes of different lengths). */
export function roundRobin(lanes: readonly (readonly Frame[])[]): Frame[] {
  const out: Frame[] = [];
  const longest = Math.max(0, ...lanes.map((l) => l.length));
  for (let k = 0; k < longest; k++) for (const l of lanes) if (k < l.length) out.push(l[k] as Frame);
  return out;
}

/** The bytes of a stream of frames (LF framing, as the captures). */
export function toBytes(frames: readonly Frame[]): Buffer {
  return Buffer.from(`${frames.join("\n\n")}\n\n`, "utf8");
}

/** What a turn must produce, from its capture's golden replies. */
export interface Expected {
  readonly replies: number;
  readonly terminal: Reply;
}

export function expectedOf(t: Template): Expected {
  const terminal = t.golden[t.golden.length - 1];
  if (!terminal) throw new Error(`${t.name}: no golden replies`);
  return { replies: t.golden.length, terminal };
}

/** A reason the replies of one turn differ from the capture's golden replies, or undefined. */
export function mismatch(expected: Expected, got: { replies: number; terminal: Reply | undefined }): string | undefined {
  if (got.replies !== expected.replies) return `${got.replies} replies, expected ${expected.replies}`;
  const t = got.terminal;
  const e = expected.terminal;
  if (!t || t.kind !== e.kind) return `terminal ${t?.kind}, expected ${e.kind}`;
  if (t.kind === "final" && e.kind === "final" && t.content !== e.content) return "final content differs from the capture";
  if (t.kind === "error" && e.kind === "error" && t.code !== e.code) return `error code ${t.code}, expected ${e.code}`;
  return undefined;
}
