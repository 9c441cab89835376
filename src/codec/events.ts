/**
 * Frame payload → one parsed event: the only place an OpenCode event is validated.
 *
 * `parseEvent` resolves the event's session once (src/codec/session.ts) and
 * validates its properties with the schema of its type (src/codec/schemas.ts).
 * Everything downstream — the hub's routing, the turn's control handling, the
 * codec — reads the `ParsedEvent` and never the raw payload.
 */
import type { z } from "zod";
import { issueAt } from "../util/zod.js";
import {
  EVENT_SCHEMAS,
  PartDeltaProps,
  PartUpdatedEnvelope,
  partSchemaFor,
  type KnownEvent,
} from "./schemas.js";
import { isRecord, sessionOf } from "./session.js";

/**
 * One event, validated. `sessionID` is the session it belongs to (undefined when
 * it names none). `event` is set when its type is one the bridge reads and it
 * passed; `ok: false` when such an event failed validation (`reason` says where)
 * or the payload was not an event at all.
 */
export type ParsedEvent =
  | { readonly ok: true; readonly type: string; readonly sessionID: string | undefined; readonly event: KnownEvent; readonly reason: undefined }
  | { readonly ok: true; readonly type: string; readonly sessionID: string | undefined; readonly event: undefined; readonly reason: undefined }
  | { readonly ok: false; readonly type: string | undefined; readonly sessionID: string | undefined; readonly event: undefined; readonly reason: string };

/** One class for every parsed event: a fixed shape, and a brand (`isParsedEvent`). */
class Parsed {
  constructor(
    readonly ok: boolean,
    readonly type: string | undefined,
    readonly sessionID: string | undefined,
    readonly event: KnownEvent | undefined,
    readonly reason: string | undefined,
  ) {}
}

/** Was this made by `parseEvent` (so it needs no second validation)? */
export function isParsedEvent(v: unknown): v is ParsedEvent {
  return v instanceof Parsed;
}

/** An event that passed validation (here, or in the delta fast path: src/stream/fast-delta.ts). */
export const knownEvent = (type: string, sessionID: string | undefined, event: KnownEvent | undefined) =>
  new Parsed(true, type, sessionID, event, undefined) as ParsedEvent;
const failed = (type: string | undefined, sessionID: string | undefined, reason: string) =>
  new Parsed(false, type, sessionID, undefined, reason) as ParsedEvent;

const optString = (v: unknown) => v === undefined || typeof v === "string";

/**
 * The hottest event by far is `message.part.delta` (one per streamed token).
 * This guard accepts exactly what `PartDeltaProps` accepts, without the copy zod
 * makes; anything it does not accept goes through zod for the precise verdict.
 * (test/events.test.ts checks the two agree.)
 */
export function isPartDeltaProps(p: unknown): p is z.infer<typeof PartDeltaProps> {
  if (!isRecord(p)) return false;
  return (
    typeof p.partID === "string" &&
    typeof p.field === "string" &&
    typeof p.delta === "string" &&
    optString(p.sessionID) &&
    optString(p.messageID)
  );
}

function failure(type: string, sessionID: string | undefined, error: z.ZodError, prefix = "properties"): ParsedEvent {
  const issue = error.issues[0];
  return failed(type, sessionID, issue ? issueAt(issue, prefix) : error.message);
}

/** `message.part.updated`, validated as `PartUpdatedProps` would, choosing the part schema by its type. */
function parsePartUpdated(props: unknown, sessionID: string | undefined): ParsedEvent {
  const type = "message.part.updated";
  const env = PartUpdatedEnvelope.safeParse(props);
  if (!env.success) return failure(type, sessionID, env.error);
  const part = partSchemaFor(env.data.part.type).safeParse(env.data.part);
  if (!part.success) return failure(type, sessionID, part.error, "properties.part");
  return knownEvent(type, sessionID, { type, properties: { ...env.data, part: part.data } } as KnownEvent);
}

/** Validate one decoded `/event` payload. Never throws. */
export function parseEvent(raw: unknown): ParsedEvent {
  return parseEventFor(raw, undefined) as ParsedEvent;
}

/**
 * The hub's form: with `listening`, an event of a session nobody listens to is
 * not validated (returns undefined); nobody would read it.
 */
export function parseEventFor(raw: unknown, listening: ((sessionID: string) => boolean) | undefined): ParsedEvent | undefined {
  if (!isRecord(raw) || typeof raw.type !== "string") {
    return failed(undefined, undefined, "not an object with a string `type`");
  }
  const type = raw.type;
  const sessionID = sessionOf(type, raw.properties);
  if (sessionID !== undefined && listening !== undefined && !listening(sessionID)) return undefined;
  // The hot path first: a well-formed delta.
  if (type === "message.part.delta" && isPartDeltaProps(raw.properties)) {
    return knownEvent(type, sessionID, raw as KnownEvent);
  }
  if (type === "message.part.updated") return parsePartUpdated(raw.properties, sessionID);
  const schema = (EVENT_SCHEMAS as Record<string, z.ZodType>)[type];
  if (!schema) return knownEvent(type, sessionID, undefined);
  const parsed = schema.safeParse(raw.properties);
  if (!parsed.success) return failure(type, sessionID, parsed.error);
  return knownEvent(type, sessionID, { type, properties: parsed.data } as KnownEvent);
}
