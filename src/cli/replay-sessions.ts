/**
 * `opencode-bridge replay --list-sessions`: the sessions of a recorded `/event`
 * stream, each with its first prompt, read in one streaming pass.
 *
 * Only fields seen in real captures are read (test/fixtures, 1.2.27 … 1.18.33):
 * the session of an event is `properties.sessionID`, else the part's or the
 * message's `sessionID`, else (1.2.x `session.*`) `info.id`; a prompt is a
 * `message.updated` with role `user`, its text the first non-synthetic `text`
 * part of that message; a subagent's session names its parent in
 * `session.created`'s `info.parentID`.
 */
import { sessionOf } from "../codec/session.js";

type Props = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const obj = (v: unknown): Props | undefined => (typeof v === "object" && v !== null ? (v as Props) : undefined);

/** The session a raw `/event` payload belongs to, by any field a server version uses for it (the codec's rule). */
export function sessionOfPayload(payload: unknown): string | undefined {
  const p = obj(payload);
  return sessionOf(str(p?.type), p?.properties);
}

export interface SessionSummary {
  readonly id: string;
  /** User messages (prompts) seen in the session. */
  prompts: number;
  /** Text of the first prompt, when its text part is in the stream. */
  firstPrompt: string | undefined;
  /** The parent session, for a subagent's session. */
  parentId: string | undefined;
  /** Id of the first user message (whose text part is awaited). */
  firstMessageId: string | undefined;
  readonly userMessages: Set<string>;
  /** Until the first prompt is known: first text of each message seen (a part may precede its message). */
  readonly early: Map<string, string>;
}

/** Collects sessions from decoded payloads; `sessions` keeps the order of first appearance. */
export class SessionLister {
  readonly sessions = new Map<string, SessionSummary>();

  add(payload: unknown): void {
    const sid = sessionOfPayload(payload);
    if (sid === undefined) return;
    let s = this.sessions.get(sid);
    if (!s) {
      s = { id: sid, prompts: 0, firstPrompt: undefined, parentId: undefined, firstMessageId: undefined, userMessages: new Set(), early: new Map() };
      this.sessions.set(sid, s);
    }
    const p = payload as Props;
    const pr = p.properties as Props;
    switch (p.type) {
      case "session.created":
      case "session.updated":
        s.parentId ??= str(obj(pr.info)?.parentID);
        return;
      case "message.updated": {
        const info = obj(pr.info);
        const id = str(info?.id);
        if (info?.role !== "user" || id === undefined || s.userMessages.has(id)) return;
        s.userMessages.add(id);
        s.prompts++;
        if (s.firstMessageId === undefined) {
          s.firstMessageId = id;
          s.firstPrompt = s.early.get(id);
          s.early.clear();
        }
        return;
      }
      case "message.part.updated": {
        const part = obj(pr.part);
        if (s.firstPrompt !== undefined || part === undefined || part.type !== "text" || part.synthetic === true) return;
        const mid = str(part.messageID);
        const text = str(part.text);
        // The user's text part may come before or after its message.updated; take the first message's.
        if (mid === undefined || text === undefined || text === "") return;
        if (mid === s.firstMessageId) s.firstPrompt = text;
        // Before the session's first prompt is known: keep the first text of each message, in case it is that one.
        else if (s.firstMessageId === undefined && !s.early.has(mid)) s.early.set(mid, text);
        return;
      }
      default:
    }
  }
}
