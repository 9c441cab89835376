/**
 * Which OpenCode session an event belongs to: decided here and nowhere else.
 *
 * Versions put the session in different places: the top-level `sessionID` of
 * the properties (1.15+ on every session event), the part's or the message
 * info's `sessionID` (message events on 1.2.x), or — for `session.created` /
 * `session.updated` on 1.2.x — only the info's `id`. An event that names no
 * session (server-wide events, some 1.2.x deltas) resolves to undefined: the hub
 * gives it to every listener, and the codec keeps it only when it can tell it is
 * its own (a delta of a part or message the turn tracks; src/codec/reducer.ts).
 */

/** A JSON object (not an array): the one check the codec and the adapter read payloads with. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The session of an event with this `type` and these `properties` (read before or without validation). */
export function sessionOf(type: string | undefined, props: unknown): string | undefined {
  if (!isRecord(props)) return undefined;
  if (typeof props.sessionID === "string") return props.sessionID;
  const part = props.part;
  if (isRecord(part) && typeof part.sessionID === "string") return part.sessionID;
  const info = props.info;
  if (!isRecord(info)) return undefined;
  if (typeof info.sessionID === "string") return info.sessionID;
  // Without this, every 1.2.x session.created/updated would go to every listener.
  if (typeof info.id === "string" && type !== undefined && type.startsWith("session.")) return info.id;
  return undefined;
}
