/**
 * The PostgreSQL store's rows as the daemon sees them (./postgres.ts reads and
 * writes them; ./schema.ts makes the tables).
 */

/** A write refused because this daemon no longer holds the turn's lease (or the seq does not continue the turn). */
export class FencedError extends Error {
  constructor(
    readonly turnId: string,
    why: string,
  ) {
    super(`turn ${turnId}: ${why}`);
    this.name = "FencedError";
  }
}

export interface StoredTurn {
  readonly id: string;
  readonly traceId: string;
  readonly sessionId: string;
  readonly directory: string;
  /** The request as accepted (the daemon's TurnRequest). */
  readonly request: Record<string, unknown>;
  readonly requestHash: string;
  /** Wall-clock ms when accepted. */
  readonly acceptedMs: number;
  /** The turn's own user message id in OpenCode, once the prompt was about to be sent. */
  readonly messageId: string | undefined;
  readonly state: "running" | "ended";
  readonly outcome: string | null;
  readonly owner: string;
  /** The fencing token (a bigint, as text). */
  readonly fence: string;
  /** Who held the turn before this daemon claimed it (only on a claim). */
  readonly previousOwner?: string;
}

/** A turn as accepted, before it is stored. */
export type NewTurn = Pick<StoredTurn, "id" | "traceId" | "sessionId" | "directory" | "request" | "requestHash" | "acceptedMs">;

export interface StoredReply {
  readonly seq: number;
  readonly json: string;
}

export interface PgStoreOptions {
  /** This daemon's id, unique among the daemons sharing the database. */
  readonly owner: string;
  readonly leaseMs: number;
  /** Connections in the pool (LISTEN has its own). */
  readonly poolSize?: number;
}

export const TURN_COLUMNS = "id, trace_id, session_id, directory, request, request_hash, accepted_ms, message_id, state, outcome, owner, fence::text AS fence";

export const TURN_COLUMNS_OF_T = TURN_COLUMNS.split(", ").map((c) => `t.${c}`).join(", ");

export function toTurn(r: Record<string, unknown>): StoredTurn {
  return {
    id: r.id as string,
    traceId: r.trace_id as string,
    sessionId: r.session_id as string,
    directory: r.directory as string,
    request: r.request as Record<string, unknown>,
    requestHash: r.request_hash as string,
    acceptedMs: Number(r.accepted_ms),
    messageId: (r.message_id as string | null) ?? undefined,
    state: r.state as StoredTurn["state"],
    outcome: (r.outcome as string | null) ?? null,
    owner: r.owner as string,
    fence: r.fence as string,
    ...(typeof r.previous_owner === "string" ? { previousOwner: r.previous_owner } : {}),
  };
}
