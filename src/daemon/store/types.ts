/**
 * Where a daemon writes what must outlive it, as the reply path and the turn
 * runner see it: the local journal (one daemon, src/daemon/journal.ts, which is
 * this and more: open/turn/end/synced for the file's own life) or
 * the shared PostgreSQL store (several daemons, ./shared.ts). A store that answers `reply` with a promise
 * holds the reply back from subscribers and outputs until it resolves (it is then
 * written), and drops it when it rejects (another daemon drives the turn).
 */
import type { Reply } from "../../codec/reply.js";
import type { RequestEvent } from "../../codec/requests.js";

export interface TurnLog {
  reply(turnId: string, reply: Reply): void | Promise<void>;
  /** A permission/question request event of the turn. */
  request(turnId: string, evt: RequestEvent): void;
  /** The turn's own user message id, right before its prompt is sent (what identifies the turn in OpenCode's record). */
  prompt(turnId: string, messageId: string): void | Promise<void>;
  /** An output acknowledged the turn's replies up to `seq`. */
  ack(turnId: string, output: string, seq: number): void;
  /** Writes what it holds back now (the journal's `coalesce`): called before anything of it leaves the process. */
  flush?(): void;
  /** Whether the adapter should wait before delivering more of this turn (the store's backlog is past its bound). */
  lagging?(turnId: string): boolean;
}
