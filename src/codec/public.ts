/**
 * The codec as hosts see it (`opencode-bridge/codec`): the same function objects
 * as src/codec/codec.ts and src/codec/replay.ts, typed with an opaque turn state.
 *
 * Why: the real `TurnState` (src/codec/state.ts) is ~25 mutable fields with rope
 * checkpoints that the reducer updates in place; a host that read or changed one
 * would break on the next release, or break the turn. Hosts get a handle they can
 * only pass back; the bridge's own code imports the real type from `./state.js`.
 * The casts below are the one place the two meet.
 */
import { createTurnState as create, finishTurn as finish, mapOpencodeEvent as map, type CodecResult as AllCodecResult } from "./codec.js";
import type { FinishReason } from "./ending.js";
import {
  replay as replayAll,
  replayStream as streamAll,
  type ReplayOptions as AllReplayOptions,
  type ReplayResult as AllReplayResult,
  type ReplaySummary as AllReplaySummary,
  type ReplayInput as Input,
} from "./replay.js";
import type { Reply } from "./reply.js";
import type { StreamIssue } from "../stream/sse.js";
import type { TurnOptions as AllTurnOptions } from "./state.js";

declare const opaque: unique symbol;

/** One turn in progress: made by `createTurnState`, passed back to `mapOpencodeEvent` / `finishTurn`, never read. */
export interface TurnState {
  readonly [opaque]: "TurnState";
}

/** `traceId` (required), `sessionId?`, `userMessageId?`, `priorMessageIds?` (docs/api.md). */
export type TurnOptions = Pick<AllTurnOptions, "traceId" | "sessionId" | "userMessageId" | "priorMessageIds">;

/** `traceId?` (default "replay"), `sessionId?`, the decoder's `maxFrameBytes?` and the callbacks (docs/api.md). */
export type ReplayOptions = Omit<AllReplayOptions, "holdFinal" | "noReply">;

/** An internal result with the opaque state in place of the real one. */
type Opaque<T> = Omit<T, "state"> & { readonly state: TurnState };

export type CodecResult = Opaque<AllCodecResult>;
export type ReplayResult = Opaque<AllReplayResult>;
export type ReplaySummary = Opaque<AllReplaySummary>;

export const createTurnState = create as unknown as (opts: TurnOptions) => TurnState;
export const mapOpencodeEvent = map as unknown as (evt: unknown, state: TurnState) => CodecResult;
export const finishTurn = finish as unknown as (state: TurnState, reason: FinishReason) => CodecResult;
/** A recorded stream, collected: every reply and issue of one turn. */
export const replay = replayAll as unknown as (input: Input, opts?: ReplayOptions) => Promise<ReplayResult>;
/** A recorded stream, streamed: yields each reply, keeps none; returns the summary. */
export const replayStream = streamAll as unknown as (input: Input, opts?: ReplayOptions) => AsyncGenerator<Reply, ReplaySummary>;

export type { FinishReason, StreamIssue };
