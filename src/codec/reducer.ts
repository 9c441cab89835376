/**
 * The codec's reducer: one parsed event → reply bodies of one turn.
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
 *
 * Pure: no I/O, clock, logger or randomness. Bodies are appended to `out` with a
 * placeholder envelope; trace_id, session_id and seq are stamped later, in one
 * place (src/codec/envelope.ts).
 */
import type { ReplyBody } from "./envelope.js";
import { endTurn, hasOpenMessage, onIdle, terminate } from "./ending.js";
import type { ParsedEvent } from "./events.js";
import { detach } from "./text.js";
import { onNextEvent } from "./next.js";
import { describeServerError } from "./mappers.js";
import { dropDelta, holdDelta, holdPart, takeDelta, takeParts } from "./pending.js";
import type { KnownEvent } from "./schemas.js";
import { messageRole, trackRole, type MessageTrack, type TextTrack, type TurnState } from "./state.js";
import { appendRaw, flushText, newTextTrack, reconcileText } from "./text.js";
import { onToolPart, type ToolPartView } from "./tools.js";

/** Reduce one parsed event (a failed one counts as lost). */
export function reduce(evt: ParsedEvent, state: TurnState, out: ReplyBody[]): void {
  if (!evt.ok) reduceLost(evt.type, evt.sessionID, state, out);
  else if (evt.event !== undefined) reduceKnown(evt.event, evt.sessionID, state, out);
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

/**
 * An event that was lost or unreadable (invalid JSON, failed validation, over the
 * frame cap). If it may belong to this turn and matters for its output, the turn
 * ends with `error` code `protocol`: its replies could no longer be trusted to be complete.
 */
export function reduceLost(type: string | undefined, sessionID: string | undefined, state: TurnState, out: ReplyBody[]): void {
  if (state.phase === "done") return;
  if (sessionID !== undefined && state.sessionId !== undefined && sessionID !== state.sessionId) return;
  if (type !== undefined && !(type in OUTPUT_TYPES)) return;
  if (state.phase === "waiting" && sessionID === undefined) return;
  state.protocolIssues++;
  if (state.phase === "waiting") return;
  const what = type === undefined ? "an unreadable event" : `a ${type} event`;
  terminate(state, out, {
    code: "protocol",
    message: `OpenCode sent ${what} for this turn that could not be read; the turn's output may be incomplete`,
  });
}

function reduceKnown(evt: KnownEvent, sessionID: string | undefined, state: TurnState, out: ReplyBody[]): void {
  if (state.phase === "done") return;
  let sid = sessionID;
  if (sid === undefined && evt.type === "message.part.delta") {
    // 1.2.x omits the session on some deltas: a delta of a part or message this turn tracks is its own.
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

function handle(evt: KnownEvent, state: TurnState, out: ReplyBody[]): void {
  switch (evt.type) {
    case "message.part.delta": {
      const p = evt.properties;
      if (p.field === "reasoning") {
        // No checked server sends it (docs/dialects.md); the taOS adapter reads it as reasoning: so do we.
        onReasoningDelta(p, state, out);
        return;
      }
      if (p.field !== "text") return;
      // Only parts of this turn's assistant messages are ever tracked, so a tracked part needs no further check.
      const t = trackOf(state, p.partID);
      if (t) {
        // The track's own id (the delta's may be a slice of the frame: see `detach`).
        if (!t.suspended) appendRaw(state, out, t.partId, t, p.delta);
        return;
      }
      if (state.resyncing) return; // its part will come with its full text
      holdDelta(state, p.partID, p.messageID, p.delta);
      return;
    }
    case "message.part.updated":
      onPartUpdated(evt, state, out);
      return;
    case "message.updated":
      onMessageUpdated(evt.properties.info, state, out);
      return;
    case "session.error":
      if (state.phase === "running") state.error = describeServerError(evt.properties.error ?? {});
      return;
    case "session.status":
      if (evt.properties.status.type === "idle") onIdle(state, out);
      return;
    case "session.idle":
      onIdle(state, out);
      return;
    // Control events: the adapter acts on them; they carry no output.
    case "permission.asked":
    case "permission.updated":
    case "permission.replied":
    case "question.asked":
    case "question.replied":
    case "question.rejected":
    case "server.connected":
    case "server.instance.disposed":
      return;
    case "session.next.model.switched": {
      const m = evt.properties.model;
      state.model = `${m.providerID}/${m.id}`;
      return;
    }
    case "session.next.agent.switched":
      state.agent = evt.properties.agent;
      return;
    case "session.next.step.started":
    case "session.next.step.ended":
    case "session.next.text.ended":
    case "session.next.reasoning.ended":
    case "session.next.tool.called":
    case "session.next.tool.success":
    case "session.next.tool.failed":
      onNextEvent(evt, state, out);
      return;
    default: {
      const never: never = evt;
      void never;
    }
  }
}

type MessageInfo = Extract<KnownEvent, { type: "message.updated" }>["properties"]["info"];

function onMessageUpdated(info: MessageInfo, state: TurnState, out: ReplyBody[]): void {
  const known = state.messages.get(info.id);
  const track: MessageTrack = known ?? { role: info.role, parentID: info.parentID, completed: false };
  if (!known) state.messages.set(info.id, track);
  if (info.time?.completed !== undefined || info.error) track.completed = true;
  if (info.role === "user") {
    const admitted = state.phase === "waiting" && admits(state, info.id);
    if (admitted) {
      state.userMessageId = info.id;
      state.phase = "running";
    }
    if (state.userMessageId === info.id) {
      if (info.model) state.model = `${info.model.providerID}/${info.model.modelID}`;
      if (info.agent) state.agent = info.agent;
    }
    if (admitted && state.noReply) {
      // Stored, and nothing will answer it (OpenCode sends no idle either): the turn is done.
      endTurn(state, out);
      return;
    }
  } else if (info.role === "assistant") {
    if (state.phase === "running" && trackRole(state, track) === "turn") {
      if (info.providerID && info.modelID) state.model = `${info.providerID}/${info.modelID}`;
      const agent = info.agent ?? info.mode;
      if (agent) state.agent = agent;
    }
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
    if (info.error && state.phase === "running" && trackRole(state, track) === "turn" && !state.error) {
      state.error = describeServerError(info.error);
    }
  }
  const held = takeParts(state, info.id);
  if (held) for (const e of held) handle(e, state, out);
  if (state.idleSeen && state.phase === "running" && !hasOpenMessage(state)) endTurn(state, out);
}

/** The text track of a part, if tracked; the last one found is compared before the map is looked up. */
function trackOf(state: TurnState, partId: string): TextTrack | undefined {
  const last = state.lastText;
  if (last !== undefined && last.partId === partId) return last;
  const t = state.texts.get(partId);
  if (t !== undefined) state.lastText = t;
  return t;
}

/** A `field: "reasoning"` delta: reasoning text of the part, never answer text. */
function onReasoningDelta(p: { partID: string; messageID?: string; delta: string }, state: TurnState, out: ReplyBody[]): void {
  let t = state.texts.get(p.partID);
  if (!t) {
    if (state.resyncing || state.phase !== "running") return;
    const role = messageRole(state, p.messageID);
    if (role !== "turn") {
      // Its message is not known yet: held like a text delta; the part's update gives its type.
      if (role === undefined) holdDelta(state, p.partID, p.messageID, p.delta);
      return;
    }
    t = newTextTrack("reasoning", detach(p.partID), detach(p.messageID ?? ""), false);
    state.texts.set(t.partId, t);
  }
  if (!t.suspended) appendRaw(state, out, t.partId, t, p.delta);
}

function admits(state: TurnState, messageId: string): boolean {
  if (state.priorMessageIds?.has(messageId) === true) return false;
  return state.expectedUserMessageId === undefined || state.expectedUserMessageId === messageId;
}

function onPartUpdated(evt: Extract<KnownEvent, { type: "message.part.updated" }>, state: TurnState, out: ReplyBody[]) {
  const part = evt.properties.part;
  const role = messageRole(state, part.messageID);
  if (role === undefined) {
    // Role of the message not known yet: keep the update until message.updated says.
    if (!holdPart(state, part.messageID, evt)) state.protocolIssues++;
    return;
  }
  if (role === "other" || state.phase !== "running") {
    dropDelta(state, part.id);
    return;
  }
  if (part.type === "text" || part.type === "reasoning") {
    const p = part as { type: "text" | "reasoning"; id: string; messageID: string; text?: string; time?: { end?: number } };
    let t = trackOf(state, p.id);
    if (!t) {
      t = newTextTrack(p.type === "text" ? "delta" : "reasoning", p.id, p.messageID, state.resyncing);
      state.texts.set(p.id, t);
      const early = takeDelta(state, p.id);
      if (early !== undefined) appendRaw(state, out, p.id, t, early);
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
  if (part.type === "tool") onToolPart(state, out, part as ToolPartView);
}
