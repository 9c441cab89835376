/**
 * The router: who listens to which session, and where one parsed event goes.
 *
 * An event goes to the listeners of its session; one that names no session
 * (older servers omit it on some), to every listener, and the codec attributes
 * it. An event of a child session of a listened one (a subagent, tracked in
 * src/adapter/child-sessions.ts) goes to the root session's listeners as
 * `onChildEvent`: life for the turn, never its replies. The connection itself
 * (open, reconnect, control events) is the hub's (src/adapter/event-hub.ts).
 */
import type { ParsedEvent } from "../codec/events.js";
import type { StreamIssue } from "../codec/sse.js";
import { ChildSessions } from "./child-sessions.js";
import type { BridgeError } from "./errors.js";

export interface HubListener {
  /**
   * An event of the listener's session, or one that names no session (parsed once,
   * by the hub). `receivedAt`: when its bytes arrived, on the hub's clock — which is
   * the adapter's (src/adapter/shared-hub.ts shares a hub only between adapters with
   * the same clock), so a listener need not read the clock per event.
   */
  onEvent(evt: ParsedEvent, receivedAt: number): void;
  onIssue(issue: StreamIssue): void;
  /** An event of a child session (a subagent) of the listener's session. */
  onChildEvent?(evt: ParsedEvent, receivedAt: number): void;
  /** The stream dropped; events may be missed until `onResync`. */
  onGap?(err: BridgeError): void;
  /** The stream is back (server.connected seen); what was missed must be recovered. */
  onResync?(): void;
  /** The stream is gone for good (reconnecting gave up). Not called after an intentional close. */
  onClose(err: BridgeError): void;
}

export class SessionRouter {
  private readonly listeners = new Map<string, Set<HubListener>>();

  /**
   * `receivedAt`: when the bytes of the event being routed arrived (events are
   * routed synchronously as their chunk is decoded, right after its arrival is noted).
   */
  constructor(private readonly receivedAt: () => number) {}
  /** Subagent sessions under the listened ones (their events are life for the root's turn). */
  private readonly children = new ChildSessions((id) => this.listeners.has(id));

  /** How many sessions have a listener. */
  get size(): number {
    return this.listeners.size;
  }

  /** Listen to `sessionId`; returns the function that stops listening. */
  add(sessionId: string, listener: HubListener): () => void {
    let set = this.listeners.get(sessionId);
    if (!set) {
      set = new Set();
      this.listeners.set(sessionId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(sessionId) === set) {
        this.listeners.delete(sessionId);
        // Forget the tree under a session nobody listens to any more.
        this.children.forgetUnlistened();
      }
    };
  }

  /** Every listener, of every session. */
  all(): HubListener[] {
    const all: HubListener[] = [];
    for (const set of this.listeners.values()) all.push(...set);
    return all;
  }

  readonly listening = (sessionId: string): boolean =>
    this.listeners.has(sessionId) || this.children.rootOf(sessionId) !== undefined;

  /** A frame's `session.created`/`session.updated`, read before validation for child sessions. */
  noteCreated(payload: unknown): void {
    this.children.noteCreated(payload);
  }

  /** A stream issue goes to the listeners of its session, or to every listener. */
  issue(issue: StreamIssue): void {
    const sid = issue.sessionID;
    for (const l of sid !== undefined ? [...(this.listeners.get(sid) ?? [])] : this.all()) l.onIssue(issue);
  }

  /** An event goes to the listeners of its session; one that names no session, to every listener. */
  route(evt: ParsedEvent): void {
    const sid = evt.sessionID;
    const at = this.receivedAt();
    if (sid !== undefined) {
      this.children.noteTask(evt.event, sid);
      const set = this.listeners.get(sid);
      if (set) {
        for (const l of set) l.onEvent(evt, at);
        return;
      }
      const root = this.children.rootOf(sid);
      const parents = root === undefined ? undefined : this.listeners.get(root);
      if (parents) for (const l of parents) l.onChildEvent?.(evt, at);
      return;
    }
    for (const set of this.listeners.values()) for (const l of set) l.onEvent(evt, at);
  }
}
