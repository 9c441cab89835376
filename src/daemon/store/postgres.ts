/**
 * The PostgreSQL store (`serve --store postgres://…`): turns, replies,
 * acknowledgements and keyed sessions shared by several daemons (schema: ./schema.ts).
 *
 * Who drives a turn is a lease on its row: the daemon that accepts a turn owns it
 * first; each owner renews its leases (`renew`) well within `leaseMs`; a turn whose
 * lease ran out is claimed by any daemon (`claim`: `FOR UPDATE SKIP LOCKED`, so
 * claimers never wait on each other or take the same row). Every claim draws a new
 * fencing token from a sequence, and every write of a turn's replies or end names
 * the token it holds and takes a share lock on the turn's row: once another daemon
 * has claimed the turn (which needs the row's update lock) the old owner's writes
 * match no row and are refused (`FencedError`), whatever its clock says. The token
 * alone decides, not the lease's time: an owner whose lease lapsed (it stalled) but
 * that nobody has claimed yet still drives the turn, and its next renewal extends it;
 * refusing it would give up a turn that one daemon was still driving correctly.
 * Replies are also checked to continue the turn's last seq, so they stay gapless.
 */
import pg from "pg";
import type { SessionEntry, SessionStore } from "../../adapter/sessions.js";
import { CHANNEL, SCHEMA_SQL, SCHEMA_VERSION } from "./schema.js";
import { FencedError, TURN_COLUMNS, TURN_COLUMNS_OF_T, toTurn, type NewTurn, type PgStoreOptions, type StoredReply, type StoredTurn } from "./rows.js";

export { FencedError, type NewTurn, type PgStoreOptions, type StoredReply, type StoredTurn } from "./rows.js";

export class PgStore {
  readonly pool: pg.Pool;
  private listener: pg.Client | undefined;
  private readonly changeListeners = new Set<(turnId: string) => void>();
  private closed = false;

  constructor(
    readonly url: string,
    readonly opts: PgStoreOptions,
  ) {
    this.pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 20, connectionTimeoutMillis: 10_000 });
    // An idle client's error (the server restarted) must not crash the daemon; the next query reconnects.
    this.pool.on("error", () => {});
  }

  private get leaseSecs(): number {
    return this.opts.leaseMs / 1000;
  }

  /** Creates the tables when missing (one daemon at a time) and starts listening for changes. */
  async open(): Promise<void> {
    const c = await this.pool.connect();
    try {
      // Tables already made by this version: no DDL. Its table locks (DROP/CREATE TRIGGER) would
      // queue every other daemon's reads and writes behind them at each start of a daemon.
      const have = await c.query("SELECT v FROM bridge_meta WHERE k = 'schema'").catch(() => undefined);
      if (Number(have?.rows[0]?.v) === SCHEMA_VERSION) {
        c.release();
        await this.listen();
        return;
      }
    } catch (err) {
      c.release();
      throw err;
    }
    try {
      await c.query("SELECT pg_advisory_lock(727274)");
      await c.query(SCHEMA_SQL);
      const r = await c.query(
        "INSERT INTO bridge_meta (k, v) VALUES ('schema', $1) ON CONFLICT (k) DO UPDATE SET v = GREATEST(bridge_meta.v::int, EXCLUDED.v::int)::text RETURNING v",
        [String(SCHEMA_VERSION)],
      );
      const v = Number(r.rows[0]?.v);
      if (v > SCHEMA_VERSION) throw new Error(`the store's schema is version ${v}, newer than this bridge's (${SCHEMA_VERSION}): upgrade the bridge`);
    } finally {
      await c.query("SELECT pg_advisory_unlock(727274)").catch(() => {});
      c.release();
    }
    await this.listen();
  }

  /** Called with a turn id whenever replies of it were written or it ended (on any daemon). */
  onChange(fn: (turnId: string) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  private async listen(): Promise<void> {
    const c = new pg.Client({ connectionString: this.url });
    c.on("notification", (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      for (const fn of this.changeListeners) fn(n.payload);
    });
    // A lost LISTEN connection is replaced; followers also poll (./shared.ts), so nothing waits on it forever.
    c.on("error", () => {
      if (this.listener === c) this.listener = undefined;
      c.end().catch(() => {});
      if (!this.closed) setTimeout(() => void this.listen().catch(() => {}), 1_000).unref();
    });
    await c.connect();
    await c.query(`LISTEN ${CHANNEL}`);
    this.listener = c;
  }

  /**
   * Stores a new turn owned (leased) by this daemon, or finds the turn already
   * stored under its trace id (another daemon may have taken the same request).
   */
  async accept(t: NewTurn): Promise<{ created: true; fence: string } | { created: false; existing: StoredTurn }> {
    const r = await this.pool.query(
      `INSERT INTO bridge_turns (id, trace_id, session_id, directory, request, request_hash, accepted_ms, owner, fence, lease_until, settled)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, nextval('bridge_fence'), now() + make_interval(secs => $9), false)
       ON CONFLICT (trace_id) DO NOTHING RETURNING fence::text AS fence`,
      [t.id, t.traceId, t.sessionId, t.directory, JSON.stringify(t.request), t.requestHash, t.acceptedMs, this.opts.owner, this.leaseSecs],
    );
    const fence = r.rows[0]?.fence as string | undefined;
    if (fence !== undefined) return { created: true, fence };
    const existing = await this.byTrace(t.traceId);
    if (!existing) throw new Error(`trace ${t.traceId} conflicted but is not stored (forgotten meanwhile); retry`);
    return { created: false, existing };
  }

  async byTrace(traceId: string): Promise<StoredTurn | undefined> {
    const r = await this.pool.query(`SELECT ${TURN_COLUMNS} FROM bridge_turns WHERE trace_id = $1`, [traceId]);
    return r.rows[0] ? toTurn(r.rows[0] as Record<string, unknown>) : undefined;
  }

  async byId(id: string): Promise<StoredTurn | undefined> {
    const r = await this.pool.query(`SELECT ${TURN_COLUMNS} FROM bridge_turns WHERE id = $1`, [id]);
    return r.rows[0] ? toTurn(r.rows[0] as Record<string, unknown>) : undefined;
  }

  /** The turn's replies with seq >= `fromSeq`, in order, as the JSON they were written with. */
  async replies(turnId: string, fromSeq = 0): Promise<StoredReply[]> {
    const r = await this.pool.query("SELECT seq, body::text AS json FROM bridge_replies WHERE turn_id = $1 AND seq >= $2 ORDER BY seq", [turnId, fromSeq]);
    return r.rows.map((row: { seq: number; json: string }) => ({ seq: row.seq, json: row.json }));
  }

  /**
   * Appends replies (consecutive seqs continuing the turn) if this daemon still
   * holds the turn under `fence` (nobody claimed it since); else throws `FencedError`.
   */
  async append(turnId: string, fence: string, replies: readonly StoredReply[]): Promise<void> {
    if (replies.length === 0) return;
    const r = await this.pool.query(
      `WITH t AS (
         SELECT id FROM bridge_turns WHERE id = $1 AND fence = $2::bigint AND state = 'running' FOR SHARE
       ), n AS (SELECT coalesce(max(seq) + 1, 0) AS next FROM bridge_replies WHERE turn_id = $1)
       INSERT INTO bridge_replies (turn_id, seq, body)
       SELECT $1, x.seq, x.body::json FROM t, n, unnest($3::int[], $4::text[]) AS x(seq, body) WHERE n.next = $5
       RETURNING seq`,
      [turnId, fence, replies.map((x) => x.seq), replies.map((x) => x.json), replies[0]!.seq],
    );
    if (r.rowCount !== replies.length) {
      const now = await this.byId(turnId);
      const why =
        now === undefined ? "not stored" : now.fence !== fence ? `taken over (fence ${now.fence}, ours ${fence})` : now.state !== "running" ? "already ended" : `seq ${replies[0]!.seq} does not continue the turn`;
      throw new FencedError(turnId, why);
    }
  }

  /** Records the turn's user message id under `fence` (before the prompt is sent). */
  async prompt(turnId: string, fence: string, messageId: string): Promise<void> {
    const r = await this.pool.query("UPDATE bridge_turns SET message_id = $3 WHERE id = $1 AND fence = $2::bigint AND state = 'running'", [turnId, fence, messageId]);
    if (r.rowCount !== 1) throw new FencedError(turnId, "prompt id not recorded: this daemon no longer holds it");
  }

  /** Ends the turn under `fence`; throws `FencedError` when this daemon no longer holds it. */
  async end(turnId: string, fence: string, outcome: string): Promise<void> {
    const r = await this.pool.query(
      "UPDATE bridge_turns SET state = 'ended', outcome = $3, ended_at = now() WHERE id = $1 AND fence = $2::bigint AND state = 'running'",
      [turnId, fence, outcome],
    );
    if (r.rowCount !== 1) throw new FencedError(turnId, "not ended: this daemon no longer holds it");
  }

  /** Marks ended turns settled (their outputs acknowledged every reply) under the fences held. */
  async settle(held: ReadonlyArray<{ id: string; fence: string }>): Promise<void> {
    if (held.length === 0) return;
    await this.pool.query(
      "UPDATE bridge_turns t SET settled = true FROM unnest($1::text[], $2::bigint[]) AS h(id, fence) WHERE t.id = h.id AND t.fence = h.fence AND t.state = 'ended'",
      [held.map((h) => h.id), held.map((h) => h.fence)],
    );
  }

  /** Takes over up to `limit` turns whose lease ran out, running or ended but unsettled; each with a new fence. */
  async claim(limit: number): Promise<StoredTurn[]> {
    const r = await this.pool.query(
      `UPDATE bridge_turns t SET owner = $1, fence = nextval('bridge_fence'), lease_until = now() + make_interval(secs => $2)
       FROM (SELECT id, owner FROM bridge_turns WHERE (state = 'running' OR NOT settled) AND lease_until <= now() ORDER BY lease_until LIMIT $3 FOR UPDATE SKIP LOCKED) c
       WHERE t.id = c.id RETURNING ${TURN_COLUMNS_OF_T}, c.owner AS previous_owner`,
      [this.opts.owner, this.leaseSecs, limit],
    );
    return r.rows.map((row) => toTurn(row as Record<string, unknown>));
  }

  /** Renews the leases of turns this daemon holds; returns the ids still held (the others were taken over or ended). */
  async renew(held: ReadonlyArray<{ id: string; fence: string }>): Promise<Set<string>> {
    if (held.length === 0) return new Set();
    const r = await this.pool.query(
      `UPDATE bridge_turns t SET lease_until = now() + make_interval(secs => $1)
       FROM unnest($2::text[], $3::bigint[]) AS h(id, fence)
       WHERE t.id = h.id AND t.fence = h.fence AND (t.state = 'running' OR NOT t.settled) RETURNING t.id`,
      [this.leaseSecs, held.map((h) => h.id), held.map((h) => h.fence)],
    );
    return new Set(r.rows.map((row: { id: string }) => row.id));
  }

  /** Gives up the leases at once (a daemon shutting down with turns still running): others may claim them without waiting. */
  async release(held: ReadonlyArray<{ id: string; fence: string }>): Promise<void> {
    if (held.length === 0) return;
    await this.pool.query(
      `UPDATE bridge_turns t SET lease_until = now() FROM unnest($1::text[], $2::bigint[]) AS h(id, fence)
       WHERE t.id = h.id AND t.fence = h.fence AND (t.state = 'running' OR NOT t.settled)`,
      [held.map((h) => h.id), held.map((h) => h.fence)],
    );
  }

  /** Records that `output` acknowledged the turn's replies up to `seq`. */
  async ack(turnId: string, output: string, seq: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO bridge_acks (turn_id, output, seq) VALUES ($1, $2, $3)
       ON CONFLICT (turn_id, output) DO UPDATE SET seq = GREATEST(bridge_acks.seq, EXCLUDED.seq)`,
      [turnId, output, seq],
    );
  }

  async acks(turnId: string): Promise<Map<string, number>> {
    const r = await this.pool.query("SELECT output, seq FROM bridge_acks WHERE turn_id = $1", [turnId]);
    return new Map(r.rows.map((row: { output: string; seq: number }) => [row.output, row.seq]));
  }

  /** Forgets ended turns beyond the newest `keep` (with their replies and acknowledgements). */
  async prune(keep: number): Promise<number> {
    const r = await this.pool.query(
      "DELETE FROM bridge_turns WHERE id IN (SELECT id FROM bridge_turns WHERE state = 'ended' ORDER BY ended_at DESC OFFSET $1)",
      [keep],
    );
    return r.rowCount ?? 0;
  }

  /**
   * Keyed sessions (`session_key` → OpenCode session) in the same database: the
   * `SessionStore` of src/adapter/sessions.ts, so that one key names one session on
   * every daemon. Keys hold a NUL (directory \0 key, src/daemon/run.ts keyIn), which
   * a text column cannot: stored JSON-quoted.
   */
  sessions(): SessionStore {
    const pool = this.pool;
    return {
      async get(k) {
        const r = await pool.query("SELECT entry FROM bridge_sessions WHERE k = $1", [JSON.stringify(k)]);
        return r.rows[0]?.entry as SessionEntry | undefined;
      },
      async set(k, entry) {
        await pool.query("INSERT INTO bridge_sessions (k, entry) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET entry = EXCLUDED.entry", [JSON.stringify(k), JSON.stringify(entry)]);
      },
      async delete(k) {
        await pool.query("DELETE FROM bridge_sessions WHERE k = $1", [JSON.stringify(k)]);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => {});
    await this.pool.end().catch(() => {});
  }
}
