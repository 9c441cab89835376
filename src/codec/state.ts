/**
 * The state of one turn as the codec sees it. The codec updates it in place;
 * every field states the invariant it keeps.
 */
import { Envelope } from "./envelope.js";
import type { NextStep } from "./next.js";
import type { ErrorCode } from "./reply.js";
import type { KnownEvent } from "./schemas.js";
import type { TagFilter } from "./tags.js";

export interface TurnOptions {
  readonly traceId: string;
  /** The OpenCode session of the turn; omitted: the first session that receives a prompt. */
  readonly sessionId?: string;
  /** The id of the turn's user message, when the caller chose it; omitted: the first new user message. */
  readonly userMessageId?: string;
  /** User messages that belong to earlier turns of the session (republished by the server); never admit these. */
  readonly priorMessageIds?: Iterable<string>;
  /**
   * Hold a `final` until the caller has checked the server's record (`releaseFinal`):
   * the adapter's end-of-turn verification. Off for replays of a recorded stream.
   */
  readonly holdFinal?: boolean;
  /** The prompt was sent with `noReply`: the model does not run, the turn ends `final` (empty) once its user message is stored. */
  readonly noReply?: boolean;
}

/**
 * One text or reasoning part of the turn's answer. It is its own tag filter
 * (`hold`, src/codec/tags.ts): one object fewer per part, and per delta.
 */
export interface TextTrack extends TagFilter {
  readonly kind: "delta" | "reasoning";
  /** The part's id: its key in `texts`, and the `part_id` of its replies. */
  readonly partId: string;
  readonly messageID: string;
  /** Appends since the last checkpoint (src/codec/text.ts). */
  appends: number;
  /**
   * The raw server text accounted for so far (before tag filtering) is always
   * `rawBase + rawTail` (src/codec/text.ts `rawText`): the text at the last
   * checkpoint, and what was appended since.
   */
  rawBase: string;
  rawTail: string;
  /** The part's `time.end` arrived: its held-back text has been flushed. */
  ended: boolean;
  /**
   * After a gap in the stream, live deltas of this part can no longer be lined up
   * with what was recorded: they are dropped, and the part's text comes from its
   * full-text updates (the server's record, its final `message.part.updated`).
   */
  suspended: boolean;
}

/** One tool call: `tool_call` and `tool_result` are each emitted at most once. */
export interface ToolTrack {
  readonly tool: string;
  called: boolean;
  resulted: boolean;
}

export interface MessageTrack {
  readonly role: string;
  readonly parentID: string | undefined;
  /** The server stamped `time.completed` (or an error) on it: no more parts will change. */
  completed: boolean;
  tokens?: { input: number; output: number; reasoning: number; cacheRead: number; cacheWrite: number };
  cost?: number;
}

/** Events that arrived before it was known whether they matter, waiting for that to be known. */
export interface Pending {
  /** Deltas for parts not yet seen in a `message.part.updated` (type unknown). */
  readonly deltas: Map<string, { messageID: string | undefined; text: string }>;
  /** Part updates of messages whose role is not known yet. */
  readonly parts: Map<string, KnownEvent[]>;
  /** Entries in `deltas` plus events in `parts`; never above MAX_PENDING. */
  count: number;
}

export interface TurnState {
  readonly traceId: string;
  /** The envelope the codec's public functions stamp replies with (`seq` counts them). */
  readonly envelope: Envelope;
  sessionId: string | undefined;
  readonly expectedUserMessageId: string | undefined;
  /** undefined: none given. */
  readonly priorMessageIds: ReadonlySet<string> | undefined;
  readonly noReply: boolean;
  userMessageId: string | undefined;
  phase: "waiting" | "running" | "done";
  readonly messages: Map<string, MessageTrack>;
  /** Part id → its text track (only parts of this turn's assistant messages). Never removed or replaced. */
  readonly texts: Map<string, TextTrack>;
  /** The track the last text delta went to: consecutive deltas of one part need no lookup in `texts`. */
  lastText: TextTrack | undefined;
  /** Call id (or the part id, for parts that carry no callID) → its tool track; made at the first tool part. */
  tools: Map<string, ToolTrack> | undefined;
  /** Made when the first event is held (src/codec/pending.ts); most turns never hold one. */
  pending: Pending | undefined;
  /**
   * The concatenation of every delta emitted so far (what `final.content` must
   * equal) is always `answerBase + answerTail` (src/codec/text.ts `finalAnswer`):
   * the answer at the last checkpoint, and what was appended since.
   */
  answerAppends: number;
  answerBase: string;
  answerTail: string;
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
  /** Events of this turn that could not be read (validation failures, lost frames). */
  protocolIssues: number;
  /** Between `beginResync` and `endResync`: parts seen now are suspended too. */
  resyncing: boolean;
  /** A `final` must wait for `releaseFinal` (the caller verifies it against the server's record first). */
  holdFinal: boolean;
  /** The turn would have ended `final` and waits for `releaseFinal` (only with `holdFinal`). */
  finalHeld: boolean;
  /** The model ("provider/model") and agent in effect: from `session.next.*.switched`, the prompt, then the answering message. */
  model: string | undefined;
  agent: string | undefined;
  /** What the current step's `session.next.*` events carried (src/codec/next.ts); undefined until one came. */
  next: NextStep | undefined;
}

/** Pending events are bounded; past this, the oldest unknown-role parts are dropped (and counted). */
export const MAX_PENDING = 10_000;

export function createTurnState(opts: TurnOptions): TurnState {
  return {
    traceId: opts.traceId,
    envelope: new Envelope(opts.traceId),
    sessionId: opts.sessionId,
    expectedUserMessageId: opts.userMessageId,
    priorMessageIds: priorSet(opts.priorMessageIds),
    noReply: opts.noReply === true,
    userMessageId: undefined,
    phase: "waiting",
    messages: new Map(),
    texts: new Map(),
    lastText: undefined,
    tools: undefined,
    pending: undefined,
    answerAppends: 0,
    answerBase: "",
    answerTail: "",
    error: undefined,
    idleSeen: false,
    override: undefined,
    protocolIssues: 0,
    resyncing: false,
    holdFinal: opts.holdFinal ?? false,
    finalHeld: false,
    model: undefined,
    agent: undefined,
    next: undefined,
  };
}

// What a turn holds is made on first use: at 1,000 concurrent turns every object a
// turn keeps is a cold cache line per event and something for the collector to copy.
function priorSet(ids: Iterable<string> | undefined): ReadonlySet<string> | undefined {
  if (ids === undefined) return undefined;
  const set = new Set(ids);
  return set.size === 0 ? undefined : set;
}

/** Does this message belong to the running turn? undefined: not known yet. */
export function messageRole(state: TurnState, messageID: string | undefined): "turn" | "other" | undefined {
  if (messageID === undefined) return undefined;
  const m = state.messages.get(messageID);
  return m === undefined ? undefined : trackRole(state, m);
}

/** `messageRole` of a message whose track is at hand (no lookup). */
export function trackRole(state: TurnState, m: MessageTrack): "turn" | "other" {
  if (m.role !== "assistant") return "other";
  if (m.parentID !== undefined && state.userMessageId !== undefined && m.parentID !== state.userMessageId) {
    return "other";
  }
  return "turn";
}
