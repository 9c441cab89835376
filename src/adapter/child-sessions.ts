/**
 * Child sessions: the subagent sessions (started by the `task` tool) under the
 * sessions someone listens to, so that the hub can route their events to the
 * root session's listeners as life for the turn (src/adapter/event-hub.ts).
 *
 * A child is learnt from the stream (a session created with a `parentID`, which
 * the dialect reads and tells `adopt`) or from a task tool part's
 * `metadata.sessionId` (which may come first, or alone); nesting is followed
 * recursively.
 *
 * Invariant: `parents` only holds children of trees rooted in a listened
 * session (and forgets a tree once nobody listens to its root), at most
 * MAX_CHILDREN entries, oldest forgotten first.
 *
 * `TurnChildren` is one turn's side of it: the children it aborts with itself
 * and the labels its requests carry (src/adapter/turn.ts).
 */
import type { ParsedEvent } from "../codec/events.js";

/** Child sessions remembered at most (oldest forgotten first), and nesting followed at most. */
const MAX_CHILDREN = 10_000;
const MAX_DEPTH = 16;

export class ChildSessions {
  /** Child session → its parent session. */
  private readonly parents = new Map<string, string>();

  /** `isListened`: whether someone listens to this session itself. */
  constructor(private readonly isListened: (sessionId: string) => boolean) {}

  /** The listened session at the root of `sessionId`'s tree (itself when listened); undefined: none. */
  rootOf(sessionId: string): string | undefined {
    let id: string | undefined = sessionId;
    for (let depth = 0; id !== undefined && depth <= MAX_DEPTH; depth++) {
      if (this.isListened(id)) return id;
      id = this.parents.get(id);
    }
    return undefined;
  }

  /** Remember that `child` is a subagent session of `parent` when `parent` is in a listened tree. */
  adopt(child: string, parent: string): void {
    if (child === parent || this.parents.has(child) || this.rootOf(parent) === undefined) return;
    if (this.parents.size >= MAX_CHILDREN) {
      const oldest = this.parents.keys().next().value;
      if (oldest !== undefined) this.parents.delete(oldest);
    }
    this.parents.set(child, parent);
  }

  /** A task tool names its subagent's session before (or instead of) session.created. */
  noteTask(e: ParsedEvent["event"], sid: string): void {
    if (e?.type === "message.part.updated" && e.properties.part.type === "tool") {
      const child = taskSessionOf((e.properties.part as { state: { metadata?: unknown } }).state.metadata);
      if (child !== undefined) this.adopt(child, sid);
    }
  }

  /** Forget the trees under sessions nobody listens to any more. */
  forgetUnlistened(): void {
    for (const child of [...this.parents.keys()]) if (this.rootOf(child) === undefined) this.parents.delete(child);
  }
}

/** The subagent session a task tool part names in its `metadata.sessionId`, if any. */
export function taskSessionOf(metadata: unknown): string | undefined {
  const id = typeof metadata === "object" && metadata !== null ? (metadata as { sessionId?: unknown }).sessionId : undefined;
  return typeof id === "string" ? id : undefined;
}

/** What a `task` call said about its subagent: its description and agent type, as far as given (its label on requests). */
export type TaskLabel = { description?: string; agent?: string };

/** One turn's subagents: their sessions (aborted with the turn) and their labels. */
export class TurnChildren {
  /** Child sessions seen: routed to the turn by the hub, or named by a task tool part. */
  readonly ids = new Set<string>();
  private readonly labels = new Map<string, TaskLabel>();

  /** An event of child session `id` reached the turn; its label, if its task call was seen. */
  seen(id: string): TaskLabel | undefined {
    this.ids.add(id);
    return this.labels.get(id);
  }

  /** A tool part's state: the child session it names (a `task` call), remembered with its label. */
  task(state: { metadata?: unknown; input?: unknown }): string | undefined {
    const child = taskSessionOf(state.metadata);
    if (child === undefined) return undefined;
    if (!this.labels.has(child)) this.labels.set(child, taskLabel(state));
    this.ids.add(child);
    return child;
  }
}

function taskLabel(state: { input?: unknown }): TaskLabel {
  const i = (typeof state.input === "object" && state.input !== null ? state.input : {}) as { description?: unknown; subagent_type?: unknown };
  return {
    ...(typeof i.description === "string" ? { description: i.description } : {}),
    ...(typeof i.subagent_type === "string" ? { agent: i.subagent_type } : {}),
  };
}
