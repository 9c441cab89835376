/**
 * The contenders, each consuming one GET /event from the benchmark server.
 *
 * floor:   undici `request` → TextDecoder → eventsource-parser → JSON.parse of
 *          each frame, nothing else.
 * sdk:     the official client, `@opencode-ai/sdk/v2` `createOpencodeClient`,
 *          `client.event.subscribe()`, iterating its `.stream`.
 * bridge:  opencode-bridge's `EventHub` (undici → EventStreamDecoder → demux by
 *          session) with one listener per driven turn that runs the codec
 *          (`mapEventInto` on the turn's state) and hands each reply to a no-op sink.
 * adapter: the same hub with the adapter's own per-turn listener (`Turn`: timers
 *          re-armed per event, replies delivered through its promise chain).
 *
 * Each returns how many frames it consumed. With `recv`, each also stores the
 * time (performance.now()) at which it finished handling frame i in recv[i].
 *
 * Bridge and adapter drive turns the way the adapter does: a turn's listener is
 * subscribed for its session before the turn's first event and unsubscribed at
 * its terminal reply, when the lane's next turn (if any) is subscribed. Every
 * turn's replies are checked against the capture's golden replies afterwards.
 */
import { createParser } from "eventsource-parser";
import { request } from "undici";
import pino from "pino";
import { createOpencodeClient } from "@opencode-ai/sdk/v2";
import { createTurnState, finishTurn, isTurnDone, lostEventInto, mapEventInto, type TurnState } from "../../src/codec/codec.js";
import type { Reply } from "../../src/codec/reply.js";
import type { StreamIssue } from "../../src/stream/sse.js";
import { EventHub, type HubListener } from "../../src/adapter/event-hub.js";
import type { Dialect } from "../../src/adapter/dialect.js";
import { createDialect } from "../../src/adapter/line.js";
import { parseAdapterConfig, type AdapterConfig } from "../../src/adapter/config.js";
import { Turn } from "../../src/adapter/turn.js";
import type { BridgeError } from "../../src/adapter/errors.js";
import { mismatch, type Expected } from "./frames.js";

export const DIRECTORY = "/tmp/opencode-bridge-bench";

export async function floor(baseUrl: string, recv?: Float64Array): Promise<number> {
  const res = await request(`${baseUrl}/event?directory=${encodeURIComponent(DIRECTORY)}`, {
    method: "GET",
    headers: { accept: "text/event-stream" },
  });
  if (res.statusCode !== 200) throw new Error(`floor: GET /event answered ${res.statusCode}`);
  const decoder = new TextDecoder();
  let n = 0;
  const parser = createParser({
    onEvent: (e) => {
      JSON.parse(e.data);
      if (recv) recv[n] = performance.now();
      n++;
    },
  });
  for await (const chunk of res.body) parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
  return n;
}

export async function sdk(baseUrl: string, recv?: Float64Array): Promise<number> {
  const client = createOpencodeClient({ baseUrl });
  let failure: unknown;
  const sub = await client.event.subscribe(
    {},
    {
      // One attempt: the SDK otherwise retries a failed stream forever.
      sseMaxRetryAttempts: 1,
      onSseError: (err: unknown) => {
        failure = err;
      },
    },
  );
  let n = 0;
  for await (const ev of sub.stream) {
    if (ev === undefined) throw new Error("sdk: undefined event");
    if (recv) recv[n] = performance.now();
    n++;
  }
  if (failure !== undefined) throw new Error(`sdk: the stream failed: ${String(failure)}`);
  return n;
}

/** One turn the bridge drives: its session and what its replies must be. */
export interface TurnSpec {
  readonly sessionId: string;
  readonly expected: Expected;
}

export interface BridgeWork {
  /** Turns of each lane run one after another; lanes run concurrently. */
  readonly lanes: readonly (readonly TurnSpec[])[];
  /** Keep every turn subscribed to the end (latency runs: every frame reaches a listener). */
  readonly keepSubscribed?: boolean;
  readonly maxFrameBytes?: number;
  /** The OpenCode line of the stream's frames (default 1; 2: `/api/event` through the 2.x dialect). */
  readonly line?: 1 | 2;
}

export interface BridgeOutcome {
  readonly events: number;
  readonly turns: number;
  readonly ended: readonly Ended[];
  /** Replies of the last turn of lane 0 (for the long-turn benchmark). */
  readonly lastTerminal: Reply | undefined;
  /** The state of the last turn of lane 0. */
  readonly lastState: TurnState | undefined;
}

export type ListenerKind = "codec" | "adapter";

/** One ended turn, checked against its capture after the run (outside the timed part). */
interface Ended {
  readonly lane: number;
  readonly index: number;
  readonly replies: number;
  readonly terminal: Reply | undefined;
}

interface Driver {
  readonly hub: EventHub;
  readonly work: BridgeWork;
  readonly recv: Float64Array | undefined;
  readonly ended: Ended[];
  readonly settling: Promise<void>[];
  turns: number;
  lastTerminal: Reply | undefined;
  lastState: TurnState | undefined;
  /** The state of each lane's current turn. */
  readonly current: TurnState[];
  readonly adapter: { cfg: AdapterConfig; http: Dialect; log: pino.Logger } | undefined;
}

/** The minimal codec listener: the codec on the turn's state, replies to a no-op sink. */
class CodecTurn implements HubListener {
  private readonly state: TurnState;
  private readonly out: Reply[] = [];
  private replies = 0;
  private terminal: Reply | undefined;
  private unsubscribe: () => void = () => {};
  private done = false;

  constructor(
    private readonly d: Driver,
    private readonly lane: number,
    private readonly index: number,
  ) {
    const spec = d.work.lanes[lane]?.[index] as TurnSpec;
    this.state = createTurnState({ traceId: `bench-${lane}-${index}`, sessionId: spec.sessionId });
    d.current[lane] = this.state;
    this.unsubscribe = d.hub.subscribe(spec.sessionId, this);
  }

  onEvent(payload: unknown): void {
    mapEventInto(payload, this.state, this.out);
    this.after();
    const recv = this.d.recv;
    if (recv) recv[this.d.hub.stats.events - 1] = performance.now();
  }

  onIssue(issue: StreamIssue): void {
    lostEventInto({ type: issue.type, sessionID: issue.sessionID }, this.state, this.out);
    this.after();
  }

  onClose(err: BridgeError): void {
    this.out.push(...finishTurn(this.state, { code: "transport", message: err.message }).replies);
    this.after();
  }

  private after(): void {
    const out = this.out;
    if (out.length !== 0) {
      for (let i = 0; i < out.length; i++) this.sink(out[i] as Reply);
      // Emptied as the adapter's delivery does: `length = 0` would make V8 free the
      // array's storage and allocate it again at the next event's push.
      while (out.length !== 0) out.pop();
    }
    if (!this.done && this.state.phase === "done") this.finish();
  }

  /** The no-op sink (it counts, and keeps the terminal reply for the check). */
  private sink(reply: Reply): void {
    this.replies++;
    if (reply.kind === "final" || reply.kind === "error") this.terminal = reply;
  }

  private finish(): void {
    this.done = true;
    const d = this.d;
    d.turns++;
    d.ended.push({ lane: this.lane, index: this.index, replies: this.replies, terminal: this.terminal });
    if (this.lane === 0) {
      d.lastTerminal = this.terminal;
      d.lastState = this.state;
    }
    if (d.work.keepSubscribed) return;
    this.unsubscribe();
    if (this.index + 1 < (d.work.lanes[this.lane]?.length ?? 0)) new CodecTurn(d, this.lane, this.index + 1);
  }
}

/** The adapter's own listener (`Turn`), switched to the lane's next turn at its terminal reply. */
class AdapterTurn implements HubListener {
  private readonly state: TurnState;
  private readonly turn: Turn;
  private replies = 0;
  private terminal: Reply | undefined;
  private readonly unsubscribe: () => void;
  private done = false;

  constructor(
    private readonly d: Driver,
    private readonly lane: number,
    private readonly index: number,
  ) {
    const spec = d.work.lanes[lane]?.[index] as TurnSpec;
    const a = d.adapter;
    if (!a) throw new Error("adapter listener without adapter config");
    this.state = createTurnState({ traceId: `bench-${lane}-${index}`, sessionId: spec.sessionId });
    d.current[lane] = this.state;
    const sink = {
      deliver: (reply: Reply) => {
        this.replies++;
        if (reply.kind === "final" || reply.kind === "error") this.terminal = reply;
      },
    };
    this.turn = new Turn(this.state, spec.sessionId, a.cfg, a.http, sink, a.log);
    this.unsubscribe = d.hub.subscribe(spec.sessionId, this);
    // What the adapter does once the prompt is accepted: the turn's clocks start.
    this.turn.started();
  }

  // As the adapter subscribes its Turn: with the hub's arrival time of the event.
  onEvent(payload: unknown, receivedAt?: number): void {
    this.turn.onEvent(payload, receivedAt);
    this.after();
    const recv = this.d.recv;
    if (recv) recv[this.d.hub.stats.events - 1] = performance.now();
  }

  onIssue(issue: StreamIssue): void {
    this.turn.onIssue(issue);
    this.after();
  }

  onClose(err: BridgeError): void {
    this.turn.onClose(err);
    this.after();
  }

  private after(): void {
    if (!this.done && isTurnDone(this.state)) this.finish();
  }

  private finish(): void {
    this.done = true;
    const d = this.d;
    d.turns++;
    // Replies reach the sink through the Turn's delivery pump: record them once it has settled.
    d.settling.push(
      this.turn.settled().then(() => {
        d.ended.push({ lane: this.lane, index: this.index, replies: this.replies, terminal: this.terminal });
        if (this.lane === 0) {
          d.lastTerminal = this.terminal;
          d.lastState = this.state;
        }
      }),
    );
    if (d.work.keepSubscribed) return;
    this.unsubscribe();
    if (this.index + 1 < (d.work.lanes[this.lane]?.length ?? 0)) new AdapterTurn(d, this.lane, this.index + 1);
  }
}

/** Turns whose replies differ from their capture's golden replies, or that never ended (must be none). */
export function failures(work: BridgeWork, o: BridgeOutcome): string[] {
  const out: string[] = [];
  for (const e of o.ended) {
    const spec = work.lanes[e.lane]?.[e.index] as TurnSpec;
    const why = mismatch(spec.expected, e);
    if (why) out.push(`lane ${e.lane} turn ${e.index} (${spec.sessionId}): ${why}`);
  }
  const expected = work.lanes.reduce((a, l) => a + l.length, 0);
  if (o.ended.length !== expected) out.push(`${o.ended.length} of ${expected} turns ended`);
  return out;
}

/**
 * The hub and the first turn of every lane, subscribed (nothing is connected yet):
 * what the bridge holds for sessions waiting for their turn's first event.
 */
export class BridgeRun {
  readonly hub: EventHub;
  private readonly d: Driver;

  constructor(
    baseUrl: string,
    work: BridgeWork,
    opts: { kind?: ListenerKind; recv?: Float64Array } = {},
  ) {
    const kind = opts.kind ?? "codec";
    // The stand-in replays captures of a known line (1.x unless said): no line detection.
    const http = createDialect({ baseUrl, directory: DIRECTORY, requestTimeoutMs: 30_000, line: work.line ?? 1, maxFrameBytes: work.maxFrameBytes });
    this.hub = new EventHub(http, { connectTimeoutMs: 30_000 });
    this.d = {
      hub: this.hub,
      work,
      recv: opts.recv,
      ended: [],
      settling: [],
      turns: 0,
      lastTerminal: undefined,
      lastState: undefined,
      current: [],
      adapter:
        kind === "adapter"
          ? { cfg: parseAdapterConfig({ baseUrl, directory: DIRECTORY }, {}), http, log: pino({ enabled: false }) }
          : undefined,
    };
    for (let lane = 0; lane < work.lanes.length; lane++) {
      if ((work.lanes[lane]?.length ?? 0) === 0) continue;
      if (kind === "codec") new CodecTurn(this.d, lane, 0);
      else new AdapterTurn(this.d, lane, 0);
    }
  }

  /** The state of a lane's current turn. */
  stateOf(lane: number): TurnState | undefined {
    return this.d.current[lane];
  }

  /** Consume one GET /event to its end. */
  async consume(): Promise<BridgeOutcome> {
    const { hub, d } = this;
    // A listener on no session sees only server-wide events and the end of the stream:
    // the hub reports the end as a gap (it would reconnect; it is closed instead).
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    const unsubscribeEnd = hub.subscribe("\u0000end", {
      onEvent() {},
      onIssue() {},
      onGap: () => ended(),
      onClose: () => ended(),
    });
    await hub.open();
    await end;
    unsubscribeEnd();
    hub.close();
    await Promise.all(d.settling);
    return { events: hub.stats.events, turns: d.turns, ended: d.ended, lastTerminal: d.lastTerminal, lastState: d.lastState };
  }

  /** Stop: unsubscribes nothing, closes the hub (for the idle-memory measurement). */
  close(): void {
    this.hub.close();
  }
}

/** Run the hub over one GET /event with listeners of `kind` driving `work`. */
export function bridge(
  baseUrl: string,
  work: BridgeWork,
  opts: { kind?: ListenerKind; recv?: Float64Array } = {},
): Promise<BridgeOutcome> {
  return new BridgeRun(baseUrl, work, opts).consume();
}
