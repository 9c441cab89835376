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
import type { StreamIssue } from "../stream/sse.js";
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

/**
 * A session's listeners: the listener itself when there is one (the usual case:
 * one turn per session), else an array of them. No `Set` per session: with a
 * thousand sessions live, each event would touch the Set and its table too.
 * An array is never changed in place (a listener may unsubscribe while the
 * array is being walked): adding or removing makes a new one, so listeners added
 * or removed while an event is being dispatched take effect from the next event.
 */
type Listeners = HubListener | readonly HubListener[];

function forEach(ls: Listeners, fn: (l: HubListener) => void): void {
  if (Array.isArray(ls)) for (const l of ls as readonly HubListener[]) fn(l);
  else fn(ls as HubListener);
}

export class SessionRouter {
  private readonly listeners = new Map<string, Listeners>();
  /**
   * The session of the event being decoded and its listeners, as `listening` found
   * them (the decoder asks before validating, `route` follows): one map lookup per
   * event. Cleared whenever a listener is added or removed.
   */
  private lastId: string | undefined;
  private lastListeners: Listeners | undefined;

  /** Subagent sessions under the listened ones (their events are life for the root's turn). */
  private readonly children = new ChildSessions((id) => this.listeners.has(id));

  /**
   * `receivedAt`: when the bytes of the event being routed arrived (events are
   * routed synchronously as their chunk is decoded, right after its arrival is noted).
   */
  constructor(private readonly receivedAt: () => number) {}

  /** How many sessions have a listener. */
  get size(): number {
    return this.listeners.size;
  }

  /** Listen to `sessionId`; returns the function that stops listening. */
  add(sessionId: string, listener: HubListener): () => void {
    this.forget();
    const ls = this.listeners.get(sessionId);
    if (ls === undefined) this.listeners.set(sessionId, listener);
    else if (!Array.isArray(ls)) {
      if (ls !== listener) this.listeners.set(sessionId, [ls as HubListener, listener]);
    } else if (!(ls as readonly HubListener[]).includes(listener)) this.listeners.set(sessionId, [...(ls as readonly HubListener[]), listener]);
    let removed = false;
    return () => {
      const now = this.listeners.get(sessionId);
      if (removed || now === undefined) return;
      removed = true;
      let rest: Listeners | undefined;
      if (!Array.isArray(now)) {
        if (now !== listener) return;
      } else {
        const others = (now as readonly HubListener[]).filter((l) => l !== listener);
        if (others.length === now.length) return;
        rest = others.length === 1 ? others[0] : others;
      }
      this.forget();
      if (rest !== undefined) {
        this.listeners.set(sessionId, rest);
        return;
      }
      this.listeners.delete(sessionId);
      // Forget the tree under a session nobody listens to any more.
      this.children.forgetUnlistened();
    };
  }

  private forget(): void {
    this.lastId = undefined;
    this.lastListeners = undefined;
  }

  /** Every listener, of every session. */
  all(): HubListener[] {
    const all: HubListener[] = [];
    for (const ls of this.listeners.values()) forEach(ls, (l) => all.push(l));
    return all;
  }

  readonly listening = (sessionId: string): boolean => {
    const ls = this.listeners.get(sessionId);
    this.lastId = sessionId;
    this.lastListeners = ls;
    return ls !== undefined || this.children.rootOf(sessionId) !== undefined;
  };

  /** `child` was started under `parent` (a subagent), as the stream announced it. */
  adopt(child: string, parent: string): void {
    this.children.adopt(child, parent);
  }

  /** A stream issue goes to the listeners of its session, or to every listener. */
  issue(issue: StreamIssue): void {
    const sid = issue.sessionID;
    if (sid === undefined) {
      for (const l of this.all()) l.onIssue(issue);
      return;
    }
    const ls = this.listeners.get(sid);
    if (ls !== undefined) forEach(ls, (l) => l.onIssue(issue));
  }

  /** An event goes to the listeners of its session; one that names no session, to every listener. */
  route(evt: ParsedEvent): void {
    const sid = evt.sessionID;
    const at = this.receivedAt();
    if (sid !== undefined) {
      this.children.noteTask(evt.event, sid);
      const ls = sid === this.lastId ? this.lastListeners : this.listeners.get(sid);
      if (ls !== undefined) {
        if (!Array.isArray(ls)) (ls as HubListener).onEvent(evt, at);
        else for (const l of ls as readonly HubListener[]) l.onEvent(evt, at);
        return;
      }
      const root = this.children.rootOf(sid);
      const parents = root === undefined ? undefined : this.listeners.get(root);
      if (parents !== undefined) forEach(parents, (l) => l.onChildEvent?.(evt, at));
      return;
    }
    for (const ls of this.listeners.values()) forEach(ls, (l) => l.onEvent(evt, at));
  }
}
