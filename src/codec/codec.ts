/**
 * The codec: a reducer from OpenCode `/event` events to the replies of one turn.
 *
 *   mapOpencodeEvent(evt, state) → { replies, state }
 *   finishTurn(state, reason)   → { replies, state }   (the stream ended without the turn ending)
 *
 * It does no I/O and reads no clock, logger or randomness: the same events give
 * the same replies. For speed the state is updated in place and returned; the
 * caller must use the returned state and not keep the old reference.
 *
 * How a turn is recognised on a shared stream:
 * - the turn's session is the one given, or else the first session whose user
 *   message appears (what `replay` needs);
 * - the turn starts ("is admitted") with its user message (`message.updated`
 *   with role user, the expected message id when one is given); idles before
 *   that belong to an earlier turn and are ignored;
 * - only parts of assistant messages answering that user message become
 *   replies; the user's own prompt text is a text part too and is dropped;
 * - the turn ends at the first idle of its session after admission
 *   (`session.status` idle or the deprecated `session.idle`, whichever comes
 *   first), as `error` when a `session.error` or an assistant message error was
 *   seen, otherwise as `final`.
 */
import type { ErrorCode, Reply, Usage } from "./reply.js";
import { parseEvent, type KnownEvent, type ServerError } from "./events.js";
import { createTagFilter, flushTagFilter, pushTagFilter, stripTags, type TagFilter } from "./tags.js";

export interface TurnOptions {
  readonly traceId: string;
  /** The OpenCode session of the turn; omitted: the first session that receives a prompt. */
  readonly sessionId?: string;
  /** The id of the turn's user message, when the caller chose it; omitted: the first new user message. */
  readonly userMessageId?: string;
  /** User messages that belong to earlier turns of the session (republished by the server); never admit these. */
  readonly priorMessageIds?: Iterable<string>;
}

interface TextTrack {
  readonly kind: "delta" | "reasoning";
  readonly messageID: string;
  /** Raw server text accounted for so far (before tag filtering). */
  raw: string;
  /** Appends to `raw` since it was last flattened. */
  appends: number;
  /** Whether `raw` came from explicit deltas (then updates are only checked at the end). */
  filter: TagFilter;
  ended: boolean;
  /**
   * After a gap in the stream, live deltas of this part can no longer be lined up
   * with what was recorded: they are dropped, and the part's text comes from its
   * full-text updates (the server's record, its final `message.part.updated`).
   */
  suspended: boolean;
}

interface ToolTrack {
  readonly tool: string;
  called: boolean;
  resulted: boolean;
}

interface MessageTrack {
  readonly role: string;
  readonly parentID: string | undefined;
  /** The server stamped `time.completed` (or an error) on it: no more parts will change. */
  completed: boolean;
  tokens?: { input: number; output: number; reasoning: number; cacheRead: number; cacheWrite: number };
  cost?: number;
}

/** Events that arrived before it was known whether they matter, waiting for that to be known. */
interface Pending {
  /** Deltas for parts not yet seen in a `message.part.updated` (type unknown). */
  readonly deltas: Map<string, { messageID: string | undefined; text: string }>;
  /** Part updates of messages whose role is not known yet. */
  readonly parts: Map<string, KnownEvent[]>;
  count: number;
}

export interface TurnState {
  readonly traceId: string;
  sessionId: string | undefined;
  readonly expectedUserMessageId: string | undefined;
  readonly priorMessageIds: ReadonlySet<string>;
  userMessageId: string | undefined;
  phase: "waiting" | "running" | "done";
  seq: number;
  readonly messages: Map<string, MessageTrack>;
  readonly texts: Map<string, TextTrack>;
  readonly tools: Map<string, ToolTrack>;
  /** Tool part id → call id, for parts that carry no callID. */
  readonly pending: Pending;
  /** Concatenation of every delta emitted so far (what `final.content` must equal). */
  answer: string;
  answerAppends: number;
  error: { message: string; code: ErrorCode } | undefined;
  /**
   * An idle came while an assistant message of the turn was still open. Real servers
   * do this on errors and aborts: they finish that message (its last text, its error)
   * after the idle — and 1.2.x even sends the `session.error` after it. The turn ends
   * once the message is complete, so nothing the server finished is lost and an
   * abort is not mistaken for a `final`.
   */
  idleSeen: boolean;
  /**
   * The cause the caller already decided the turn ends with (a timeout, the host's
   * abort): it outranks whatever the server reports while the turn winds down.
   */
  override: { message: string; code: ErrorCode } | undefined;
  /** Last provider retry reported by the server (for the adapter's retry policy). */
  retry: { attempt: number; message: string } | undefined;
  /** Events of this turn that could not be read (validation failures, lost frames). */
  protocolIssues: number;
  /** Between `beginResync` and `endResync`: parts seen now are suspended too. */
  resyncing: boolean;
}

export interface CodecResult {
  readonly replies: Reply[];
  readonly state: TurnState;
}

/** Pending events are bounded; past this, the oldest unknown-role parts are dropped (and counted). */
const MAX_PENDING = 10_000;

export function createTurnState(opts: TurnOptions): TurnState {
  return {
    traceId: opts.traceId,
    sessionId: opts.sessionId,
    expectedUserMessageId: opts.userMessageId,
    priorMessageIds: new Set(opts.priorMessageIds ?? []),
    userMessageId: undefined,
    phase: "waiting",
    seq: 0,
    messages: new Map(),
    texts: new Map(),
    tools: new Map(),
    pending: { deltas: new Map(), parts: new Map(), count: 0 },
    answer: "",
    answerAppends: 0,
    error: undefined,
    idleSeen: false,
    override: undefined,
    retry: undefined,
    protocolIssues: 0,
    resyncing: false,
  };
}

type ReplyBody = Reply extends infer R ? (R extends Reply ? Omit<R, "trace_id" | "session_id" | "seq"> : never) : never;

function emit(state: TurnState, out: Reply[], body: ReplyBody): void {
  out.push(Object.assign({ kind: body.kind, trace_id: state.traceId, session_id: state.sessionId ?? "", seq: state.seq++ }, body) as Reply);
}

function sessionOf(evt: KnownEvent): string | undefined {
  const p = evt.properties;
  if (p.sessionID !== undefined) return p.sessionID;
  if (evt.type === "message.part.updated") return evt.properties.part.sessionID;
  if (evt.type === "message.updated") return evt.properties.info.sessionID;
  return undefined;
}

/** Does this message belong to the running turn? undefined: not known yet. */
function messageRole(state: TurnState, messageID: string | undefined): "turn" | "other" | undefined {
  if (messageID === undefined) return undefined;
  const m = state.messages.get(messageID);
  if (!m) return undefined;
  if (m.role !== "assistant") return "other";
  if (m.parentID !== undefined && state.userMessageId !== undefined && m.parentID !== state.userMessageId) {
    return "other";
  }
  return "turn";
}

/** Map one raw `/event` payload (already JSON-decoded). */
export function mapOpencodeEvent(evt: unknown, state: TurnState): CodecResult {
  const out: Reply[] = [];
  mapEventInto(evt, state, out);
  return { replies: out, state };
}

/**
 * The same as `mapOpencodeEvent`, appending the replies to `out` instead of
 * returning a new array: the form pipelines use, with no allocation per event
 * beyond the replies themselves.
 */
export function mapEventInto(evt: unknown, state: TurnState, out: Reply[]): void {
  const parsed = parseEvent(evt);
  if (!parsed.ok) lostEventInto({ type: parsed.type, sessionID: parsed.sessionID }, state, out);
  else if (parsed.event !== undefined) knownEventInto(parsed.event, state, out);
}

/**
 * An event that was lost or unreadable (invalid JSON, failed validation, over the
 * frame cap). If it may belong to this turn and matters for its output, the turn
 * ends with `error` code `protocol`: its replies could no longer be trusted to be complete.
 */
export function mapLostEvent(
  info: { type: string | undefined; sessionID: string | undefined },
  state: TurnState,
): CodecResult {
  const out: Reply[] = [];
  lostEventInto(info, state, out);
  return { replies: out, state };
}

export function lostEventInto(
  info: { type: string | undefined; sessionID: string | undefined },
  state: TurnState,
  out: Reply[],
): void {
  if (state.phase === "done") return;
  if (info.sessionID !== undefined && state.sessionId !== undefined && info.sessionID !== state.sessionId) return;
  if (info.type !== undefined && !(info.type in OUTPUT_TYPES)) return;
  if (state.phase === "waiting" && info.sessionID === undefined) return;
  state.protocolIssues++;
  if (state.phase === "waiting") return;
  const what = info.type === undefined ? "an unreadable event" : `a ${info.type} event`;
  terminate(state, out, {
    code: "protocol",
    message: `OpenCode sent ${what} for this turn that could not be read; the turn's output may be incomplete`,
  });
}

/** Event types whose loss can change a turn's replies. */
const OUTPUT_TYPES: Record<string, true> = {
  "message.part.delta": true,
  "message.part.updated": true,
  "message.updated": true,
  "session.status": true,
  "session.idle": true,
  "session.error": true,
};

/** Map an event already validated by `parseEvent`. */
export function mapKnownEvent(evt: KnownEvent, state: TurnState): CodecResult {
  const out: Reply[] = [];
  knownEventInto(evt, state, out);
  return { replies: out, state };
}

function knownEventInto(evt: KnownEvent, state: TurnState, out: Reply[]): void {
  if (state.phase === "done") return;
  let sid = sessionOf(evt);
  if (sid === undefined && evt.type === "message.part.delta") {
    // 1.2.x omits the session on some events: a delta of a part or message we track is ours.
    const p = evt.properties;
    if (state.texts.has(p.partID) || (p.messageID !== undefined && state.messages.has(p.messageID))) {
      sid = state.sessionId;
    }
  }
  if (state.sessionId === undefined) {
    // Bind to the first session that receives a prompt.
    if (evt.type === "message.updated" && evt.properties.info.role === "user" && sid !== undefined) {
      state.sessionId = sid;
    } else {
      return;
    }
  }
  if (sid !== state.sessionId) return;
  handle(evt, state, out);
}

function handle(evt: KnownEvent, state: TurnState, out: Reply[]): void {
  switch (evt.type) {
    case "message.part.delta": {
      const p = evt.properties;
      if (p.field !== "text") return;
      // Only parts of this turn's assistant messages are ever tracked, so a tracked part needs no further check.
      const t = state.texts.get(p.partID);
      if (t) {
        if (!t.suspended) appendRaw(state, out, p.partID, t, p.delta);
        return;
      }
      if (state.resyncing) return; // its part will come with its full text
      // The part's type is not known yet: keep the text until its part.updated says.
      const prev = state.pending.deltas.get(p.partID);
      if (prev) prev.text += p.delta;
      else if (state.pending.count < MAX_PENDING) {
        state.pending.deltas.set(p.partID, { messageID: p.messageID, text: p.delta });
        state.pending.count++;
      }
      return;
    }
    case "message.part.updated":
      onPartUpdated(evt, state, out);
      return;
    case "message.updated": {
      const info = evt.properties.info;
      const known = state.messages.get(info.id);
      const track: MessageTrack = known ?? { role: info.role, parentID: info.parentID, completed: false };
      if (!known) state.messages.set(info.id, track);
      if (info.time?.completed !== undefined || info.error) track.completed = true;
      if (info.role === "user") {
        if (state.phase === "waiting" && admits(state, info.id)) {
          state.userMessageId = info.id;
          state.phase = "running";
        }
      } else if (info.role === "assistant") {
        if (info.tokens) {
          track.tokens = {
            input: info.tokens.input ?? 0,
            output: info.tokens.output ?? 0,
            reasoning: info.tokens.reasoning ?? 0,
            cacheRead: info.tokens.cache?.read ?? 0,
            cacheWrite: info.tokens.cache?.write ?? 0,
          };
        }
        if (info.cost !== undefined) track.cost = info.cost;
        if (info.error && state.phase === "running" && messageRole(state, info.id) === "turn" && !state.error) {
          state.error = describeServerError(info.error);
        }
      }
      replayPendingParts(state, out, info.id);
      if (state.idleSeen && state.phase === "running" && !hasOpenMessage(state)) endTurn(state, out);
      return;
    }
    case "session.error": {
      if (state.phase !== "running") return;
      state.error = describeServerError(evt.properties.error ?? {});
      return;
    }
    case "session.status": {
      const s = evt.properties.status;
      if (s.type === "idle") onIdle(state, out);
      else if (s.type === "retry") state.retry = { attempt: s.attempt ?? 0, message: s.message ?? "" };
      return;
    }
    case "session.idle":
      onIdle(state, out);
      return;
    default: {
      const never: never = evt;
      void never;
    }
  }
}

function admits(state: TurnState, messageId: string): boolean {
  if (state.priorMessageIds.has(messageId)) return false;
  return state.expectedUserMessageId === undefined || state.expectedUserMessageId === messageId;
}

function onPartUpdated(evt: Extract<KnownEvent, { type: "message.part.updated" }>, state: TurnState, out: Reply[]) {
  const part = evt.properties.part;
  const role = messageRole(state, part.messageID);
  if (role === undefined) {
    // Role of the message not known yet: keep the update until message.updated says.
    if (state.pending.count >= MAX_PENDING) {
      state.protocolIssues++;
      return;
    }
    const list = state.pending.parts.get(part.messageID);
    if (list) list.push(evt);
    else state.pending.parts.set(part.messageID, [evt]);
    state.pending.count++;
    return;
  }
  if (role === "other" || state.phase !== "running") {
    state.pending.deltas.delete(part.id);
    return;
  }
  if (part.type === "text" || part.type === "reasoning") {
    const p = part as { type: "text" | "reasoning"; id: string; messageID: string; text?: string; ignored?: boolean; time?: { end?: number } };
    let t = state.texts.get(p.id);
    if (!t) {
      t = {
        kind: p.type === "text" ? "delta" : "reasoning",
        messageID: p.messageID,
        raw: "",
        appends: 0,
        filter: createTagFilter(),
        ended: false,
        suspended: state.resyncing,
      };
      state.texts.set(p.id, t);
      const early = state.pending.deltas.get(p.id);
      if (early) {
        state.pending.deltas.delete(p.id);
        state.pending.count--;
        appendRaw(state, out, p.id, t, early.text);
      }
    }
    const delta = evt.properties.delta;
    if (delta !== undefined && delta !== "" && !t.suspended) {
      appendRaw(state, out, p.id, t, delta);
    } else if (p.text !== undefined) {
      reconcileText(state, out, p.id, t, p.text);
    }
    if (p.time?.end !== undefined && !t.ended) {
      t.ended = true;
      flushText(state, out, p.id, t);
    }
    return;
  }
  if (part.type === "tool") {
    const p = part as {
      id: string;
      callID?: string;
      tool: string;
      state: { status: string; input?: unknown; output?: unknown; error?: unknown; title?: unknown };
    };
    const callId = p.callID ?? p.id;
    let tr = state.tools.get(callId);
    if (!tr) {
      tr = { tool: p.tool, called: false, resulted: false };
      state.tools.set(callId, tr);
    }
    const status = p.state.status;
    // Input is complete from `running` on; `pending` carries a partial or empty one.
    if (!tr.called && (status === "running" || status === "completed" || status === "error")) {
      tr.called = true;
      emit(state, out, { kind: "tool_call", call_id: callId, tool: p.tool, input: p.state.input ?? {} });
    }
    if (!tr.resulted && (status === "completed" || status === "error")) {
      tr.resulted = true;
      const r: ReplyBody = { kind: "tool_result", call_id: callId, tool: p.tool, status };
      if (status === "completed" && p.state.output !== undefined) r.output = stringify(p.state.output);
      if (status === "error") r.error = stringify(p.state.error ?? "tool failed");
      if (typeof p.state.title === "string" && p.state.title !== "") r.title = p.state.title;
      emit(state, out, r);
    }
  }
}

function stringify(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function replayPendingParts(state: TurnState, out: Reply[], messageID: string): void {
  const list = state.pending.parts.get(messageID);
  if (!list) return;
  state.pending.parts.delete(messageID);
  state.pending.count -= list.length;
  for (const e of list) handle(e, state, out);
}

/** Append server text to a part and emit what the tag filter lets through. */
function appendRaw(state: TurnState, out: Reply[], partId: string, t: TextTrack, raw: string): void {
  t.raw += raw;
  if (++t.appends >= FLATTEN_EVERY) {
    t.appends = 0;
    t.raw = flatten(t.raw);
  }
  const text = pushTagFilter(t.filter, raw);
  if (text !== "") emitText(state, out, partId, t, text);
}

function emitText(state: TurnState, out: Reply[], partId: string, t: TextTrack, text: string): void {
  // The hot path: a literal of fixed shape (no spread) keeps reply objects monomorphic.
  const sessionId = state.sessionId ?? "";
  if (t.kind === "delta") {
    state.answer += text;
    if (++state.answerAppends >= FLATTEN_EVERY) {
      state.answerAppends = 0;
      state.answer = flatten(state.answer);
    }
    out.push({ kind: "delta", trace_id: state.traceId, session_id: sessionId, seq: state.seq++, content: text, part_id: partId });
  } else {
    out.push({ kind: "reasoning", trace_id: state.traceId, session_id: sessionId, seq: state.seq++, content: text, part_id: partId });
  }
}

/**
 * Strings built by `+=` are ropes: one node per append, about 11 bytes per
 * character of a long answer. Flattening them now and then keeps a 1,000,000-delta
 * turn near the size of its text. A regular-expression match flattens its subject
 * in V8 (Node 20–24); the result is the same string.
 */
const FLATTEN_EVERY = 4096;
const ANY = /^/;
function flatten(s: string): string {
  ANY.test(s);
  return s;
}

/**
 * A full text from `message.part.updated`. When it extends what was streamed,
 * the rest is emitted. When it is shorter (1.2.x trims the finished text) nothing
 * is taken back. When it diverges, what it has beyond the common prefix is
 * emitted, so nothing the server finished is lost; `final` stays the
 * concatenation of the deltas either way.
 */
function reconcileText(state: TurnState, out: Reply[], partId: string, t: TextTrack, full: string): void {
  if (full.length <= t.raw.length && t.raw.startsWith(full)) return;
  if (full.startsWith(t.raw)) {
    appendRaw(state, out, partId, t, full.slice(t.raw.length));
    return;
  }
  let i = 0;
  const n = Math.min(full.length, t.raw.length);
  while (i < n && full.charCodeAt(i) === t.raw.charCodeAt(i)) i++;
  if (full.length > t.raw.length) appendRaw(state, out, partId, t, full.slice(Math.max(i, t.raw.length)));
}

function flushText(state: TurnState, out: Reply[], partId: string, t: TextTrack): void {
  const rest = flushTagFilter(t.filter);
  if (rest !== "") emitText(state, out, partId, t, rest);
}

/** Is an assistant message of this turn still open (not completed by the server)? */
function hasOpenMessage(state: TurnState): boolean {
  for (const [id, m] of state.messages) if (!m.completed && messageRole(state, id) === "turn") return true;
  return false;
}

function onIdle(state: TurnState, out: Reply[]): void {
  if (state.phase !== "running") return;
  if (hasOpenMessage(state)) state.idleSeen = true;
  else endTurn(state, out);
}

/**
 * For callers with a clock: the session went idle (`idleSeen`) but the server never
 * completed its open message. Ends the turn as the idle said, with what it has.
 */
export function settleAfterIdle(state: TurnState): CodecResult {
  const out: Reply[] = [];
  if (state.phase === "running" && state.idleSeen) endTurn(state, out);
  return { replies: out, state };
}

/** The terminal reply: the caller's override, else `error` if the server reported one, else `final`. */
function endTurn(state: TurnState, out: Reply[]): void {
  const cause = state.override ?? state.error;
  if (cause) {
    terminate(state, out, cause);
    return;
  }
  closeOpenWork(state, out, "the turn ended before the tool reported a result");
  const usage = sumUsage(state);
  const body: ReplyBody = { kind: "final", content: state.answer };
  if (usage) {
    body.usage = usage.usage;
    body.cost = usage.cost;
  }
  emit(state, out, body);
  state.phase = "done";
}

function sumUsage(state: TurnState): { usage: Usage; cost: number } | undefined {
  let seen = false;
  const usage: Usage = { input: 0, output: 0, reasoning: 0, cache_read: 0, cache_write: 0 };
  let cost = 0;
  for (const m of state.messages.values()) {
    if (m.role !== "assistant" || (m.parentID !== undefined && m.parentID !== state.userMessageId)) continue;
    if (m.tokens) {
      seen = true;
      usage.input += m.tokens.input;
      usage.output += m.tokens.output;
      usage.reasoning += m.tokens.reasoning;
      usage.cache_read += m.tokens.cacheRead;
      usage.cache_write += m.tokens.cacheWrite;
    }
    if (m.cost !== undefined) cost += m.cost;
  }
  return seen ? { usage, cost } : undefined;
}

/** Emit held-back text and a result for every tool call still open. */
function closeOpenWork(state: TurnState, out: Reply[], toolError: string): void {
  for (const [partId, t] of state.texts) flushText(state, out, partId, t);
  for (const [partId, early] of state.pending.deltas) {
    // Deltas whose part never showed its type: answer text, unless its message is not this turn's.
    if (messageRole(state, early.messageID) === "other") continue;
    const track: TextTrack = {
      kind: "delta",
      messageID: early.messageID ?? "",
      raw: "",
      appends: 0,
      filter: createTagFilter(),
      ended: true,
      suspended: false,
    };
    emitText(state, out, partId, track, stripTags(early.text));
  }
  state.pending.deltas.clear();
  for (const [callId, tr] of state.tools) {
    if (tr.called && !tr.resulted) {
      tr.resulted = true;
      emit(state, out, { kind: "tool_result", call_id: callId, tool: tr.tool, status: "error", error: toolError });
    }
  }
}

function terminate(state: TurnState, out: Reply[], error: { message: string; code: ErrorCode }): void {
  closeOpenWork(state, out, `the turn ended (${error.code}) before the tool reported a result`);
  emit(state, out, { kind: "error", error: error.message, code: error.code });
  state.phase = "done";
}

/** The server's error in its own words, with a stable code. */
export function describeServerError(err: ServerError): { message: string; code: ErrorCode } {
  const name = err.name ?? "UnknownError";
  const raw = err.data?.message;
  const words = typeof raw === "string" ? raw : raw === undefined ? "" : JSON.stringify(raw);
  const status = err.data?.statusCode !== undefined ? ` (HTTP ${err.data.statusCode})` : "";
  const provider = err.data?.providerID !== undefined ? ` [provider ${err.data.providerID}]` : "";
  const message = `${name}${status}${provider}: ${words || "no message"}`;
  const code: ErrorCode = name === "MessageAbortedError" ? "aborted" : "upstream";
  return { message, code };
}

export type FinishReason =
  | { code: "transport"; message?: string }
  | { code: "timeout"; message?: string }
  | { code: "aborted"; message?: string }
  | { code: "protocol"; message?: string }
  | { code: "permission"; message?: string }
  | { code: "auth"; message?: string }
  | { code: "upstream"; message?: string }
  | { code: "internal"; message?: string };

/**
 * The finishing step: the turn must end now although OpenCode did not end it
 * (the stream ended, a timeout expired, the host aborted). Emits held-back
 * text, closes open tool calls and ends with exactly one `error` — unless the
 * turn already ended, in which case it emits nothing.
 */
export function finishTurn(state: TurnState, reason: FinishReason): CodecResult {
  const out: Reply[] = [];
  if (state.phase === "done") return { replies: out, state };
  const defaults: Record<ErrorCode, string> = {
    transport: "the event stream ended before the turn finished",
    timeout: "the turn timed out",
    aborted: "the turn was aborted",
    protocol: "OpenCode sent something the bridge could not read",
    permission: "a permission request could not be answered",
    auth: "OpenCode refused the credentials",
    upstream: "the model provider failed",
    internal: "internal error in opencode-bridge",
  };
  // A cause decided by the caller, then a server error already seen, is the truer cause.
  terminate(
    state,
    out,
    state.override ?? state.error ?? { code: reason.code, message: reason.message ?? defaults[reason.code] },
  );
  return { replies: out, state };
}

/**
 * Decide how the turn will end before it has: the next terminal reply — from the
 * server's idle, its error, or `finishTurn` — carries this cause. Used when the
 * caller aborts the session (timeout, host abort) and lets it wind down first, so
 * text the server still sends is kept and the turn is not reported as a `final`
 * or as the server's own abort error.
 */
export function overrideEnd(state: TurnState, cause: { code: ErrorCode; message: string }): TurnState {
  if (state.phase !== "done" && state.override === undefined) state.override = cause;
  return state;
}

/**
 * The stream had a gap and is back. Until `endResync`, the caller feeds the
 * server's record of the session (as `message.updated` / `message.part.updated`
 * events built from `GET /session/:id/message`) and then the live events that
 * arrived meanwhile. Parts open at the gap, and parts first seen now, stop taking
 * deltas: their text comes from full-text updates, so nothing is emitted twice and
 * nothing recorded is missing (`final.content == concat(delta)` keeps holding).
 */
export function beginResync(state: TurnState): TurnState {
  state.resyncing = true;
  for (const t of state.texts.values()) if (!t.ended) t.suspended = true;
  // Deltas of parts whose type never arrived: their full text will.
  state.pending.count -= state.pending.deltas.size;
  state.pending.deltas.clear();
  return state;
}

export function endResync(state: TurnState): TurnState {
  state.resyncing = false;
  return state;
}

export function isTurnDone(state: TurnState): boolean {
  return state.phase === "done";
}
