/**
 * Where a daemon writes what must outlive it, as the reply path sees it: the
 * local journal (one daemon, src/daemon/journal.ts) or the shared PostgreSQL store
 * (several daemons, ./shared.ts). A store that answers `reply` with a promise
 * holds the reply back from subscribers and outputs until it resolves (it is then
 * written), and drops it when it rejects (another daemon drives the turn).
 */
import type { Reply } from "../../codec/reply.js";

export interface TurnLog {
  reply(turnId: string, reply: Reply): void | Promise<void>;
  /** An output acknowledged the turn's replies up to `seq`. */
  ack(turnId: string, output: string, seq: number): void;
  /** Whether the adapter should wait before delivering more of this turn (the store's backlog is past its bound). */
  lagging?(turnId: string): boolean;
}
