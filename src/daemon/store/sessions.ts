/**
 * Keyed sessions (`session_key` → OpenCode session) in the shared PostgreSQL
 * store: the `SessionStore` of src/adapter/sessions.ts, so that one key names one
 * session on every daemon.
 */
import type pg from "pg";
import type { SessionEntry, SessionStore } from "../../adapter/sessions.js";

/** Keys hold a NUL (directory \0 key, src/daemon/run.ts keyIn), which a text column cannot: stored JSON-quoted. */
const col = (k: string) => JSON.stringify(k);

export class PgSessionStore implements SessionStore {
  constructor(private readonly pool: pg.Pool) {}

  async get(k: string): Promise<SessionEntry | undefined> {
    const r = await this.pool.query("SELECT entry FROM bridge_sessions WHERE k = $1", [col(k)]);
    return r.rows[0]?.entry as SessionEntry | undefined;
  }

  async set(k: string, entry: SessionEntry): Promise<void> {
    await this.pool.query("INSERT INTO bridge_sessions (k, entry) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET entry = EXCLUDED.entry", [col(k), JSON.stringify(entry)]);
  }

  async delete(k: string): Promise<void> {
    await this.pool.query("DELETE FROM bridge_sessions WHERE k = $1", [col(k)]);
  }
}
