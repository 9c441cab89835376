/**
 * OpenCode 2.x `/api/event` payloads → the 1.x events the codec reads.
 *
 * The reducer (src/codec/reducer.ts) speaks OpenCode 1.x's vocabulary: a turn
 * is admitted by its user `message.updated`, output arrives as
 * `message.part.updated`/`message.part.delta` of assistant messages answering it,
 * and it ends at the session's idle (after a `session.error` when it failed).
 * 2.x says the same things with other events (shapes captured from 2.1.2:
 * test/fixtures/2.1.2; docs/dialects.md). This stage rewrites each 2.x payload
 * into the 1.x payloads that say what it says and validates them with
 * `parseEvent`, so validation stays in one place and nothing downstream knows
 * which line sent them.
 *
 * Ids: 2.x numbers text and reasoning blocks per assistant message and kind
 * (`ordinal`) and gives them no id; a block's part id is `<message>.<kind>.<ordinal>`,
 * the same id src/codec/v2/record.ts gives the block in the session's record.
 * A tool part's id is its call id.
 *
 * Stateful per stream (one translator per `/api/event` connection): the user and
 * the assistant message a session is at, and each open tool call's name and input.
 * Pure: no I/O, clock, logger or randomness (times come from the events).
 */
import { parseEvent, type ParsedEvent } from "../events.js";
import { translateRequest } from "./requests.js";
import { isRec, num, partId, str, toolMetadata, toolOutput, v2Error, type Rec, type V1Payload, type V2Error } from "./shared.js";

export type { V1Payload } from "./shared.js";

export interface V2Translator {
  /** One decoded 2.x `/api/event` payload → the parsed 1.x events it stands for (often none). */
  translate(raw: unknown): ParsedEvent[];
  /** The same, before validation: the 1.x-shaped payloads (for stages that read raw payloads, e.g. child sessions). */
  translateRaw(raw: unknown): V1Payload[];
}

interface SessionTrack {
  /** The user message the session's current turn answers (its inbox id). */
  user?: string;
  /** The assistant message of the step in progress (from `session.step.started`). */
  assistant?: string;
  /** Whether that step ended (`session.step.ended`): a failure after it needs no closing message. */
  ended: boolean;
  providerID?: string;
  modelID?: string;
  agent?: string;
}

interface ToolTrack {
  readonly sessionID: string;
  readonly messageID: string;
  readonly name: string;
  input: unknown;
  done: boolean;
}

/** Inputs remembered between enqueued and delivered; the oldest are forgotten past this. */
const MAX_INPUTS = 1024;
/** Sessions whose current user and assistant message are kept; the least recently started are forgotten past this. */
const MAX_SESSIONS = 4096;

function remember(inputs: Map<string, string>, id: string, kind: string): void {
  if (inputs.size >= MAX_INPUTS) {
    const oldest = inputs.keys().next().value;
    if (oldest !== undefined) inputs.delete(oldest);
  }
  inputs.set(id, kind);
}

export function createV2Translator(): V2Translator {
  const sessions = new Map<string, SessionTrack>();
  const tools = new Map<string, ToolTrack>();
  /** Each enqueued input's kind (`user`, `synthetic` …), by inbox id, until it is delivered (bounded). */
  const inputs = new Map<string, string>();
  const session = (id: string): SessionTrack => {
    let s = sessions.get(id);
    if (!s) {
      // One stream sees every session of the server for as long as it lives: keep the newest.
      if (sessions.size >= MAX_SESSIONS) {
        const oldest = sessions.keys().next().value;
        if (oldest !== undefined) sessions.delete(oldest);
      }
      s = { ended: true };
      sessions.set(id, s);
    }
    return s;
  };

  /** The assistant message of `s` as a 1.x `message.updated` info. */
  const assistantInfo = (sid: string, s: SessionTrack, id: string, extra: Rec = {}): V1Payload => ({
    type: "message.updated",
    properties: {
      sessionID: sid,
      info: {
        id,
        sessionID: sid,
        role: "assistant",
        ...(s.user !== undefined ? { parentID: s.user } : {}),
        ...(s.providerID !== undefined ? { providerID: s.providerID } : {}),
        ...(s.modelID !== undefined ? { modelID: s.modelID } : {}),
        ...(s.agent !== undefined ? { agent: s.agent } : {}),
        ...extra,
      },
    },
  });

  /** The execution ended: close the open step (with the error, if any), say the error, then idle. */
  const endExecution = (sid: string, created: number, error: Rec | undefined): V1Payload[] => {
    const s = session(sid);
    const out: V1Payload[] = [];
    if (s.assistant !== undefined && !s.ended) {
      // A step that never ended must not stay open: the turn would wait for it forever.
      out.push(assistantInfo(sid, s, s.assistant, { time: { completed: created }, ...(error ? { error } : {}) }));
      s.ended = true;
    }
    if (error) out.push({ type: "session.error", properties: { sessionID: sid, error } });
    out.push({ type: "session.status", properties: { sessionID: sid, status: { type: "idle" } } });
    for (const [id, t] of tools) if (t.sessionID === sid) tools.delete(id);
    return out;
  };

  const toolPart = (t: ToolTrack, callID: string, state: Rec): V1Payload => ({
    type: "message.part.updated",
    properties: {
      sessionID: t.sessionID,
      part: { type: "tool", id: callID, callID, messageID: t.messageID, sessionID: t.sessionID, tool: t.name, state },
    },
  });

  const textPart = (sid: string | undefined, mid: string | undefined, kind: "text" | "reasoning", d: Rec, extra: Rec): V1Payload[] => {
    const ordinal = num(d.ordinal);
    if (sid === undefined || mid === undefined || ordinal === undefined) return [];
    return [
      {
        type: "message.part.updated",
        properties: { sessionID: sid, part: { type: kind, id: partId(mid, kind, ordinal), messageID: mid, sessionID: sid, ...extra } },
      },
    ];
  };

  const translateRaw = (raw: unknown): V1Payload[] => {
    if (!isRec(raw) || typeof raw.type !== "string") return [];
    const d = isRec(raw.data) ? raw.data : {};
    const created = num(raw.created) ?? 0;
    const sid = str(d.sessionID);
    // The assistant message a step, block or tool event belongs to.
    const mid = str(d.assistantMessageID);
    switch (raw.type) {
      case "server.connected":
        return [{ type: "server.connected", properties: {} }];
      case "session.created": {
        if (sid === undefined) return [];
        const parentID = str(d.parentID);
        // 1.x's shape: the child-session stage reads `info.id`/`info.parentID`.
        return [{ type: "session.created", properties: { sessionID: sid, info: { id: sid, ...(parentID ? { parentID } : {}) } } }];
      }
      case "session.inbox.enqueued": {
        // Only noted: a queued input joins the conversation when it is delivered.
        const id = str(d.inboxID);
        const item = isRec(d.item) ? d.item : undefined;
        if (id !== undefined && typeof item?.type === "string") remember(inputs, id, item.type);
        return [];
      }
      case "session.inbox.delivered": {
        // The input is now the one the session's next steps answer (captured: delivered comes
        // after execution.started, before the first step.started). A user's input admits the
        // turn, as 1.x's user `message.updated` does; other inputs (synthetic …) change nothing.
        const id = str(d.inboxID);
        if (sid === undefined || id === undefined) return [];
        const kind = inputs.get(id);
        if (kind !== undefined && kind !== "user") return [];
        const s = session(sid);
        if (s.user === id) return [];
        s.user = id;
        return [{ type: "message.updated", properties: { sessionID: sid, info: { id, sessionID: sid, role: "user" } } }];
      }
      case "session.step.started": {
        if (sid === undefined || mid === undefined) return [];
        const s = session(sid);
        const model = isRec(d.model) ? d.model : {};
        s.assistant = mid;
        s.ended = false;
        s.providerID = str(model.providerID) ?? s.providerID;
        s.modelID = str(model.id) ?? s.modelID;
        s.agent = str(d.agent) ?? s.agent;
        return [assistantInfo(sid, s, mid, { time: { created: num(d.started) ?? created } })];
      }
      case "session.step.ended": {
        if (sid === undefined || mid === undefined) return [];
        const s = session(sid);
        if (s.assistant === mid) s.ended = true;
        const tokens = isRec(d.tokens) ? d.tokens : undefined;
        const cost = num(d.cost);
        return [
          assistantInfo(sid, s, mid, {
            time: { completed: created },
            ...(str(d.finish) !== undefined ? { finish: d.finish } : {}),
            ...(tokens ? { tokens } : {}),
            ...(cost !== undefined ? { cost } : {}),
          }),
        ];
      }
      case "session.step.failed": {
        // Captured (2.1.2): `{assistantMessageID, error}` when a step's model call fails for good.
        if (sid === undefined || mid === undefined) return [];
        const s = session(sid);
        if (s.assistant === mid) s.ended = true;
        const error = v2Error(isRec(d.error) ? (d.error as V2Error) : {}, s.providerID);
        return [assistantInfo(sid, s, mid, { time: { completed: created }, finish: "error", error })];
      }
      case "session.retry.scheduled": {
        if (sid === undefined) return [];
        const e = isRec(d.error) ? d.error : {};
        const status: Rec = { type: "retry", ...(num(d.attempt) !== undefined ? { attempt: d.attempt } : {}), ...(num(d.at) !== undefined ? { next: d.at } : {}) };
        if (str(e.message) !== undefined) status.message = e.message;
        return [{ type: "session.status", properties: { sessionID: sid, status } }];
      }
      case "session.text.started":
      case "session.reasoning.started": {
        const kind = raw.type === "session.text.started" ? "text" : "reasoning";
        return textPart(sid, mid, kind, d, { text: "", time: { start: created } });
      }
      case "session.text.delta":
      case "session.reasoning.delta": {
        const ordinal = num(d.ordinal);
        const delta = str(d.delta);
        if (sid === undefined || mid === undefined || ordinal === undefined || delta === undefined) return [];
        const kind = raw.type === "session.text.delta" ? "text" : "reasoning";
        // 1.x streams reasoning parts' deltas as field "text" too; the part's type says which it is.
        return [{ type: "message.part.delta", properties: { sessionID: sid, messageID: mid, partID: partId(mid, kind, ordinal), field: "text", delta } }];
      }
      case "session.text.ended":
      case "session.reasoning.ended": {
        const kind = raw.type === "session.text.ended" ? "text" : "reasoning";
        const text = str(d.text);
        return textPart(sid, mid, kind, d, { ...(text !== undefined ? { text } : {}), time: { start: created, end: created } });
      }
      case "session.tool.input.started": {
        const id = str(d.id);
        const name = str(d.name);
        if (sid === undefined || mid === undefined || id === undefined || name === undefined || tools.has(id)) return [];
        const t: ToolTrack = { sessionID: sid, messageID: mid, name, input: {}, done: false };
        tools.set(id, t);
        return [toolPart(t, id, { status: "pending", input: {} })];
      }
      case "session.tool.called":
      case "session.tool.progress": {
        const id = str(d.id);
        const t = id === undefined ? undefined : tools.get(id);
        if (id === undefined || t === undefined || t.done) return [];
        if (raw.type === "session.tool.called") t.input = isRec(d.input) ? d.input : (d.input ?? {});
        else if (t.input === undefined) return [];
        return [toolPart(t, id, { status: "running", input: t.input, ...toolMetadata(d.metadata) })];
      }
      case "session.tool.success":
      case "session.tool.failed": {
        const id = str(d.id);
        const t = id === undefined ? undefined : tools.get(id);
        if (id === undefined || t === undefined || t.done) return [];
        t.done = true;
        if (raw.type === "session.tool.success") {
          const output = toolOutput(d.content);
          return [toolPart(t, id, { status: "completed", input: t.input, ...(output !== undefined ? { output } : {}), ...toolMetadata(d.metadata) })];
        }
        const e = isRec(d.error) ? d.error : {};
        return [toolPart(t, id, { status: "error", input: t.input, error: str(e.message) ?? str(e.type) ?? "tool failed" })];
      }
      case "session.execution.succeeded":
        return sid === undefined ? [] : endExecution(sid, created, undefined);
      case "session.execution.failed": {
        if (sid === undefined) return [];
        const s = session(sid);
        return endExecution(sid, created, v2Error(isRec(d.error) ? (d.error as V2Error) : {}, s.providerID));
      }
      case "session.execution.interrupted": {
        if (sid === undefined) return [];
        const reason = str(d.reason) ?? "unknown";
        return endExecution(sid, created, { name: "MessageAbortedError", data: { message: `interrupted (${reason})` } });
      }
      default:
        return translateRequest(raw.type, d);
    }
  };

  return {
    translateRaw,
    translate: (raw) => translateRaw(raw).map((p) => parseEvent(p)),
  };
}
