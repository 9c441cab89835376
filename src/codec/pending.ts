/**
 * The pending buffer: events that arrived before it was known whether they
 * matter. A delta may come before its part's type is known, a part before its
 * message's role is; they wait here (bounded by MAX_PENDING) until it is.
 */
import { detach } from "./fast-delta.js";
import type { KnownEvent } from "./schemas.js";
import { MAX_PENDING, type TurnState } from "./state.js";

/** Keep the text of a delta whose part's type is not known yet. */
export function holdDelta(state: TurnState, partID: string, messageID: string | undefined, delta: string): void {
  const prev = state.pending.deltas.get(partID);
  if (prev) prev.text += delta;
  else if (state.pending.count < MAX_PENDING) {
    // Kept beyond the event: its own copies of the ids (they may be slices of the frame, src/codec/fast-delta.ts).
    state.pending.deltas.set(detach(partID), { messageID: messageID === undefined ? undefined : detach(messageID), text: delta });
    state.pending.count++;
  }
}

/** The text held for a part, removed from the buffer (its type is known now). */
export function takeDelta(state: TurnState, partID: string): string | undefined {
  const early = state.pending.deltas.get(partID);
  if (!early) return undefined;
  state.pending.deltas.delete(partID);
  state.pending.count--;
  return early.text;
}

/** Forget held text of a part that turned out not to be this turn's. */
export function dropDelta(state: TurnState, partID: string): void {
  if (state.pending.deltas.delete(partID)) state.pending.count--;
}

/** Drop every held delta (after a gap: the parts' full text will come). */
export function dropAllDeltas(state: TurnState): void {
  state.pending.count -= state.pending.deltas.size;
  state.pending.deltas.clear();
}

/** Keep a part update of a message whose role is not known yet; false when the buffer is full. */
export function holdPart(state: TurnState, messageID: string, evt: KnownEvent): boolean {
  if (state.pending.count >= MAX_PENDING) return false;
  const list = state.pending.parts.get(messageID);
  if (list) list.push(evt);
  else state.pending.parts.set(messageID, [evt]);
  state.pending.count++;
  return true;
}

/** The part updates held for a message, removed from the buffer (its role is known now). */
export function takeParts(state: TurnState, messageID: string): KnownEvent[] | undefined {
  const list = state.pending.parts.get(messageID);
  if (!list) return undefined;
  state.pending.parts.delete(messageID);
  state.pending.count -= list.length;
  return list;
}
