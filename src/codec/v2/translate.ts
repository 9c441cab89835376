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
import { partId, toolOutput, v2Error, type V2Error } from "./shared.js";

/** A 1.x-shaped event payload (`{type, properties}`), what `parseEvent` reads. */
export interface V1Payload {
  readonly type: string;
  readonly properties: Record<string, unknown>;
}

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

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

export function createV2Translator(): V2Translator {
  const sessions = new Map<string, SessionTrack>();
  const tools = new Map<string, ToolTrack>();
  const session = (id: string): SessionTrack => {
    let s = sessions.get(id);
    if (!s) {
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

  const textPart = (sid: string, kind: "text" | "reasoning", d: Rec, extra: Rec): V1Payload | undefined => {
    const mid = str(d.assistantMessageID);
    const ordinal = num(d.ordinal);
    if (mid === undefined || ordinal === undefined) return undefined;
    return {
      type: "message.part.updated",
      properties: { sessionID: sid, part: { type: kind, id: partId(mid, kind, ordinal), messageID: mid, sessionID: sid, ...extra } },
    };
  };

  const translateRaw = (raw: unknown): V1Payload[] => {
    if (!isRec(raw) || typeof raw.type !== "string") return [];
    const d = isRec(raw.data) ? raw.data : {};
    const created = num(raw.created) ?? 0;
    const sid = str(d.sessionID);
    switch (raw.type) {
      case "server.connected":
        return [{ type: "server.connected", properties: {} }];
      case "session.created": {
        if (sid === undefined) return [];
        const parentID = str(d.parentID);
        // 1.x's shape: the child-session stage reads `info.id`/`info.parentID`.
        return [{ type: "session.created", properties: { sessionID: sid, info: { id: sid, ...(parentID ? { parentID } : {}) } } }];
      }
      case "session.inbox.enqueued":
      case "session.inbox.delivered": {
        const id = str(d.inboxID);
        if (sid === undefined || id === undefined) return [];
        const item = isRec(d.item) ? d.item : undefined;
        if (raw.type === "session.inbox.enqueued" && item !== undefined && item.type !== "user") return [];
        const s = session(sid);
        if (raw.type === "session.inbox.delivered" && s.user === id) return [];
        s.user = id;
        return [{ type: "message.updated", properties: { sessionID: sid, info: { id, sessionID: sid, role: "user" } } }];
      }
      case "session.step.started": {
        const mid = str(d.assistantMessageID);
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
        const mid = str(d.assistantMessageID);
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
        const mid = str(d.assistantMessageID);
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
        const p = sid === undefined ? undefined : textPart(sid, kind, d, { text: "", time: { start: created } });
        return p ? [p] : [];
      }
      case "session.text.delta":
      case "session.reasoning.delta": {
        const mid = str(d.assistantMessageID);
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
        const p = sid === undefined ? undefined : textPart(sid, kind, d, { ...(text !== undefined ? { text } : {}), time: { start: created, end: created } });
        return p ? [p] : [];
      }
      case "session.tool.input.started": {
        const mid = str(d.assistantMessageID);
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
        return [toolPart(t, id, { status: "running", input: t.input, ...(isRec(d.metadata) ? { metadata: d.metadata } : {}) })];
      }
      case "session.tool.success":
      case "session.tool.failed": {
        const id = str(d.id);
        const t = id === undefined ? undefined : tools.get(id);
        if (id === undefined || t === undefined || t.done) return [];
        t.done = true;
        if (raw.type === "session.tool.success") {
          const output = toolOutput(d.content);
          return [toolPart(t, id, { status: "completed", input: t.input, ...(output !== undefined ? { output } : {}), ...(isRec(d.metadata) ? { metadata: d.metadata } : {}) })];
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
      case "permission.asked": {
        const id = str(d.id);
        if (sid === undefined || id === undefined) return [];
        const source = isRec(d.source) ? d.source : undefined;
        const tool = source?.type === "tool" && str(source.messageID) && str(source.id) ? { messageID: source.messageID, callID: source.id } : undefined;
        return [
          {
            type: "permission.asked",
            properties: {
              id,
              sessionID: sid,
              ...(str(d.action) !== undefined ? { permission: d.action } : {}),
              patterns: Array.isArray(d.resources) ? d.resources : [],
              // What an `always` grants: 2.x names the rules it would save.
              always: Array.isArray(d.save) ? d.save : [],
              metadata: isRec(d.metadata) ? d.metadata : {},
              ...(str(d.message) !== undefined ? { message: d.message } : {}),
              ...(tool ? { tool } : {}),
            },
          },
        ];
      }
      case "permission.replied": {
        const requestID = str(d.requestID);
        if (sid === undefined || requestID === undefined) return [];
        return [{ type: "permission.replied", properties: { sessionID: sid, requestID, ...(d.reply !== undefined ? { reply: d.reply } : {}) } }];
      }
      default:
        return translateForm(raw.type, d);
    }
  };

  return {
    translateRaw,
    translate: (raw) => translateRaw(raw).map((p) => parseEvent(p)),
  };
}

/**
 * Questions are forms in 2.x (`form.created` with `metadata.kind: "question"`).
 * As 1.x's `question.asked` the form keeps its id as the request id, each
 * question its field's `key` (the answer body names fields by key), and the
 * whole form under `form`.
 */
function translateForm(type: string, d: Rec): V1Payload[] {
  const form = isRec(d.form) ? d.form : undefined;
  if (type === "form.created") {
    const id = str(form?.id);
    const sid = str(form?.sessionID) ?? str(d.sessionID);
    const meta = isRec(form?.metadata) ? form.metadata : {};
    if (form === undefined || id === undefined || sid === undefined || meta.kind !== "question") return [];
    const fields = Array.isArray(form.fields) ? form.fields.filter(isRec) : [];
    // Captured (2.1.2): a field's `title` is the question's header, its `description` the question.
    const questions = fields.map((f) => ({
      key: f.key,
      question: f.description ?? f.title ?? "",
      header: f.title ?? "",
      options: Array.isArray(f.options) ? f.options : [],
      ...(f.multiple !== undefined ? { multiple: f.multiple } : {}),
      ...(f.custom !== undefined ? { custom: f.custom } : {}),
    }));
    const t = isRec(meta.tool) ? meta.tool : {};
    const tool = str(t.messageID) && str(t.id) ? { messageID: t.messageID, callID: t.id } : undefined;
    return [{ type: "question.asked", properties: { id, sessionID: sid, questions, form, ...(tool ? { tool } : {}) } }];
  }
  if (type === "form.replied" || type === "form.cancelled") {
    const id = str(d.formID) ?? str(form?.id) ?? str(d.id);
    const sid = str(d.sessionID) ?? str(form?.sessionID);
    if (id === undefined) return [];
    return [{ type: type === "form.replied" ? "question.replied" : "question.rejected", properties: { requestID: id, ...(sid ? { sessionID: sid } : {}) } }];
  }
  return [];
}
