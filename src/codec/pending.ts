/**
 * The pending buffer: events that arrived before it was known whether they
 * matter. A delta may come before its part's type is known, a part before its
 * message's role is; they wait here (bounded by MAX_PENDING) until it is. The
 * buffer is made when the first event is held.
 */
import { detach } from "./text.js";
import type { KnownEvent } from "./schemas.js";
import { MAX_PENDING, type Pending, type TurnState } from "./state.js";

function pendingOf(state: TurnState): Pending {
  return (state.pending ??= { deltas: new Map(), parts: new Map(), count: 0 });
}

/** Keep the text of a delta whose part's type is not known yet. */
export function holdDelta(state: TurnState, partID: string, messageID: string | undefined, delta: string): void {
  const pending = pendingOf(state);
  const prev = pending.deltas.get(partID);
  if (prev) prev.text += delta;
  else if (pending.count < MAX_PENDING) {
    // Kept beyond the event: its own copies of the ids (they may be slices of the frame: see `detach`).
    pending.deltas.set(detach(partID), { messageID: messageID === undefined ? undefined : detach(messageID), text: delta });
    pending.count++;
  }
}

/** The text held for a part, removed from the buffer (its type is known now). */
export function takeDelta(state: TurnState, partID: string): string | undefined {
  const pending = state.pending;
  const early = pending?.deltas.get(partID);
  if (pending === undefined || early === undefined) return undefined;
  pending.deltas.delete(partID);
  pending.count--;
  return early.text;
}

/** Forget held text of a part that turned out not to be this turn's. */
export function dropDelta(state: TurnState, partID: string): void {
  const pending = state.pending;
  if (pending !== undefined && pending.deltas.delete(partID)) pending.count--;
}

/** Drop every held delta (after a gap: the parts' full text will come). */
export function dropAllDeltas(state: TurnState): void {
  const pending = state.pending;
  if (pending === undefined) return;
  pending.count -= pending.deltas.size;
  pending.deltas.clear();
}

/** Held deltas, in the order they were first held (none: an empty iterable). */
export function heldDeltas(state: TurnState): Iterable<[string, { messageID: string | undefined; text: string }]> {
  return state.pending?.deltas ?? [];
}

/** Keep a part update of a message whose role is not known yet; false when the buffer is full. */
export function holdPart(state: TurnState, messageID: string, evt: KnownEvent): boolean {
  const pending = pendingOf(state);
  if (pending.count >= MAX_PENDING) return false;
  const list = pending.parts.get(messageID);
  if (list) list.push(evt);
  else pending.parts.set(messageID, [evt]);
  pending.count++;
  return true;
}

/** The part updates held for a message, removed from the buffer (its role is known now). */
export function takeParts(state: TurnState, messageID: string): KnownEvent[] | undefined {
  const pending = state.pending;
  const list = pending?.parts.get(messageID);
  if (pending === undefined || list === undefined) return undefined;
  pending.parts.delete(messageID);
  pending.count -= list.length;
  return list;
}
