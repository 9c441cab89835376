/**
 * A loopback stand-in for `opencode serve` that replays captured fixtures: the
 * `/event` stream opens with `server.connected`, and each `prompt_async` releases
 * the frames a real server sent for that turn (from a fixture file). It lets the
 * adapter's state machine be tested with exact real bytes and an injected clock,
 * including what real servers do rarely (a stall, a dropped stream).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { loadFixtures, type Fixture } from "./fixtures.js";

export interface ScriptedTurn {
  /** The session id the fixture's frames carry; POST /session answers it, in order. */
  readonly sessionId: string;
  /** `data` payloads to send after the prompt. */
  readonly frames: readonly string[];
  /** Send only the first N frames, then hold (a stalled server). */
  readonly holdAfter?: number;
  /** Frames to send when the session is aborted (e.g. the server's idle). */
  readonly onAbort?: readonly string[];
  /**
   * What GET /session/:id/message answers (the server's record). Absent: the record
   * folded from the frames sent so far (`recordOf`), as a real server keeps it.
   */
  readonly record?: readonly unknown[];
  /** What GET /session/status says of the session (absent: idle). */
  readonly status?: "busy" | "idle";
  /** Frames sent in the same write as `server.connected` on a reconnection. */
  readonly afterReconnect?: readonly string[];
}

export interface ReplayServer {
  readonly url: string;
  readonly requests: { method: string; path: string; body: string }[];
  /** Open /event responses. */
  readonly streams: Set<ServerResponse>;
  /** Send raw bytes to every open /event stream. */
  broadcast(raw: string): void;
  /** End every open /event stream (a dropped connection). */
  dropStreams(): void;
  /** Send the frames a `holdAfter` turn held back. */
  release(sessionId: string): void;
  /** Change what the server says of a session after the fact (its record, its status). */
  update(sessionId: string, change: Partial<Pick<ScriptedTurn, "record" | "status">>): void;
  close(): Promise<void>;
}

export function framesOf(sse: Buffer | string): string[] {
  return sse
    .toString()
    .split("\n\n")
    .filter((f) => f.startsWith("data: "))
    .map((f) => f.slice(6))
    .filter((d) => !d.includes('"type":"server.connected"'));
}

let loaded: Fixture[] | undefined;

/** The captured fixture `version/scenario` (loaded once). */
export function fixtureNamed(name: string): Fixture {
  loaded ??= loadFixtures();
  const f = loaded.find((x) => x.name === name);
  if (!f) throw new Error(`no fixture ${name}`);
  return f;
}

/** The stand-in's turn for a captured fixture: its session id and frames. */
export function scriptedTurnOf(name: string, extra: Partial<ScriptedTurn> = {}): ScriptedTurn {
  const f = fixtureNamed(name);
  return { sessionId: f.golden[0]?.session_id ?? "", frames: framesOf(f.sse), ...extra };
}

interface FoldedMessage {
  info: Record<string, unknown>;
  parts: Map<string, Record<string, unknown>>;
}

/**
 * The record a server that sent these frames would hold: each message's latest
 * info, each part's latest state, with streamed deltas appended to its field.
 */
export function recordOf(frames: readonly string[]): unknown[] {
  const messages = new Map<string, FoldedMessage>();
  const partsById = new Map<string, Record<string, unknown>>();
  const message = (id: string) => {
    let m = messages.get(id);
    if (!m) {
      m = { info: { id }, parts: new Map() };
      messages.set(id, m);
    }
    return m;
  };
  for (const f of frames) {
    let e: { type?: string; properties?: Record<string, unknown> };
    try {
      e = JSON.parse(f) as typeof e;
    } catch {
      continue;
    }
    const p = e.properties ?? {};
    if (e.type === "message.updated") {
      const info = p.info as Record<string, unknown>;
      message(String(info.id)).info = info;
    } else if (e.type === "message.part.updated") {
      const part = { ...(p.part as Record<string, unknown>) };
      message(String(part.messageID)).parts.set(String(part.id), part);
      partsById.set(String(part.id), part);
    } else if (e.type === "message.part.delta") {
      const part = partsById.get(String(p.partID));
      const field = String(p.field);
      if (part) part[field] = String(part[field] ?? "") + String(p.delta);
    }
  }
  return [...messages.values()].map((m) => ({ info: m.info, parts: [...m.parts.values()] }));
}

export async function startReplayServer(
  turns: ScriptedTurn[],
  opts: { version?: string; /** Answer reconnections of /event this much later. */ reconnectDelayMs?: number } = {},
): Promise<ReplayServer> {
  const requests: ReplayServer["requests"] = [];
  const streams = new Set<ServerResponse>();
  const queue = [...turns];
  const bySession = new Map<string, ScriptedTurn>();
  /** Per session: the fixture's user message id replaced by the one the prompt chose (see withMessageId). */
  const swaps = new Map<string, (s: string) => string>();
  /** Frames sent for each session (its record, when the turn gives none). */
  const sent = new Map<string, string[]>();
  const sendFor = (sessionId: string, frames: readonly string[]) => {
    sent.set(sessionId, [...(sent.get(sessionId) ?? []), ...frames]);
    broadcast(frames.map((f) => `data: ${f}\n\n`).join(""));
  };
  let eventConnections = 0;
  const broadcast = (raw: string) => {
    for (const s of streams) s.write(raw);
  };
  /** Answer an /event request: server.connected (and, on a reconnection, `afterReconnect` frames in the same write). */
  const openStream = (res: ServerResponse, n: number) => {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const extra = n > 1 ? [...bySession.values()].flatMap((t) => t.afterReconnect ?? []).map((f) => `data: ${f}\n\n`) : [];
    res.write(`data: {"type":"server.connected","properties":{}}\n\n${extra.join("")}`);
    streams.add(res);
    res.on("close", () => streams.delete(res));
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      requests.push({ method: req.method ?? "", path: url.pathname, body });
      const parts = url.pathname.split("/").filter(Boolean);
      if (req.method === "GET" && url.pathname === "/global/health") return json(res, 200, { healthy: true, version: opts.version ?? "1.18.33" });
      if (req.method === "GET" && url.pathname === "/event") {
        const n = ++eventConnections;
        if (n > 1 && opts.reconnectDelayMs) setTimeout(() => openStream(res, n), opts.reconnectDelayMs);
        else openStream(res, n);
        return;
      }
      if (req.method === "POST" && url.pathname === "/session") {
        const next = queue.shift();
        if (!next) return json(res, 500, { error: "no scripted turn left" });
        bySession.set(next.sessionId, next);
        return json(res, 200, { id: next.sessionId });
      }
      if (parts[0] === "session" && parts[2] === "message" && req.method === "GET") {
        const id = parts[1] ?? "";
        return json(res, 200, bySession.get(id)?.record ?? recordOf(sent.get(id) ?? []));
      }
      if (req.method === "GET" && url.pathname === "/session/status") {
        const busy: Record<string, { type: string }> = {};
        for (const [id, t] of bySession) if (t.status === "busy") busy[id] = { type: "busy" };
        return json(res, 200, busy);
      }
      if (parts[0] === "session" && parts[2] === "prompt_async" && req.method === "POST") {
        const turn = withMessageId(bySession.get(parts[1] ?? ""), body, swaps);
        if (turn) bySession.set(turn.sessionId, turn);
        res.writeHead(204);
        res.end();
        if (turn) {
          const frames = turn.holdAfter === undefined ? turn.frames : turn.frames.slice(0, turn.holdAfter);
          setImmediate(() => sendFor(turn.sessionId, frames));
        }
        return;
      }
      if (parts[0] === "permission" && parts[2] === "reply" && req.method === "POST") return json(res, 200, true);
      if (parts[0] === "question" && (parts[2] === "reject" || parts[2] === "reply") && req.method === "POST") return json(res, 200, true);
      if (parts[0] === "session" && parts[2] === "abort" && req.method === "POST") {
        const turn = bySession.get(parts[1] ?? "");
        json(res, 200, true);
        if (turn?.onAbort) setImmediate(() => sendFor(turn.sessionId, turn.onAbort!));
        return;
      }
      json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    streams,
    broadcast,
    update: (sessionId, change) => {
      const t = bySession.get(sessionId);
      // A record given after the prompt names the user message as the prompt chose it too.
      const swap = swaps.get(sessionId);
      const record = change.record && swap ? (JSON.parse(swap(JSON.stringify(change.record))) as unknown[]) : change.record;
      if (t) bySession.set(sessionId, { ...t, ...change, ...(record ? { record } : {}) });
    },
    release: (sessionId: string) => {
      const turn = bySession.get(sessionId);
      if (turn?.holdAfter !== undefined) sendFor(sessionId, turn.frames.slice(turn.holdAfter));
    },
    dropStreams: () => {
      for (const s of streams) s.end();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A real server stores the user message under the `messageID` the prompt chose:
 * the fixture's first user message id of the session is replaced by it everywhere.
 */
function withMessageId(
  turn: ScriptedTurn | undefined,
  body: string,
  swaps: Map<string, (s: string) => string>,
): ScriptedTurn | undefined {
  if (!turn) return turn;
  let chosen: unknown;
  try {
    chosen = (JSON.parse(body) as { messageID?: unknown }).messageID;
  } catch {
    return turn;
  }
  if (typeof chosen !== "string") return turn;
  let original: string | undefined;
  for (const f of turn.frames) {
    const e = JSON.parse(f) as { type?: string; properties?: { info?: { id?: string; role?: string; sessionID?: string } } };
    const info = e.properties?.info;
    if (e.type === "message.updated" && info?.role === "user" && (info.sessionID ?? turn.sessionId) === turn.sessionId) {
      original = info.id;
      break;
    }
  }
  if (original === undefined || original === chosen) return turn;
  const swap = (f: string) => f.split(original).join(chosen);
  swaps.set(turn.sessionId, swap);
  return {
    ...turn,
    frames: turn.frames.map(swap),
    ...(turn.onAbort ? { onAbort: turn.onAbort.map(swap) } : {}),
    ...(turn.afterReconnect ? { afterReconnect: turn.afterReconnect.map(swap) } : {}),
    ...(turn.record ? { record: JSON.parse(swap(JSON.stringify(turn.record))) as unknown[] } : {}),
  };
}

/** A clock whose time only moves when the test says so. */
export class ManualClock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers.delete(h as number);
  };
  /** Resolves when `advance` passes `ms` from now (or at once when `signal` aborts). */
  sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const id = this.setTimeout(resolve, ms);
      signal?.addEventListener("abort", () => (this.clearTimeout(id), resolve()), { once: true });
    });
  /** Move time forward, firing due timers in order. */
  advance(ms: number): void {
    const until = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= until && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = until;
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Is a timer due exactly `ms` from now (one just armed with that delay)? */
  hasTimerIn(ms: number): boolean {
    for (const t of this.timers.values()) if (t.at === this.t + ms) return true;
    return false;
  }
}
