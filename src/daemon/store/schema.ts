/**
 * The PostgreSQL store's tables (plain SQL, created when missing, under an
 * advisory lock so that daemons starting together do not race on the DDL).
 *
 * - `bridge_turns`: one row per accepted turn — the request as accepted, its own
 *   user message id in OpenCode (written before the prompt is sent), its state and outcome, and who drives it: `owner` (a daemon id), `fence` (from the
 *   sequence `bridge_fence`, new at every claim) and `lease_until` (the database's
 *   clock, so daemons' clocks never have to agree).
 * - `bridge_replies`: the turn's replies, `(turn_id, seq)` unique; `body` is the
 *   reply's JSON as the daemon encoded it (type `json` keeps the text as written:
 *   every daemon serves the same bytes).
 * - `bridge_acks`: per turn and output, the highest seq the output acknowledged
 *   (a new owner re-sends only what was not, under the same idempotency keys); an
 *   ended turn is `settled` once they acknowledged all of it (until then it stays leased).
 * - `bridge_sessions`: `session_key` → session (keys scoped by directory, as in sessions.json).
 *
 * Triggers `NOTIFY bridge` with the turn id when replies are inserted or a turn
 * ends, so that followers on other daemons read them at once (LISTEN/NOTIFY is
 * delivered at commit: a follower never sees a notification before the rows).
 */
export const CHANNEL = "bridge";

/** Bump with every change below; `open()` refuses a database made by a newer version. */
export const SCHEMA_VERSION = 2;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS bridge_meta (k text PRIMARY KEY, v text NOT NULL);
CREATE SEQUENCE IF NOT EXISTS bridge_fence;
CREATE TABLE IF NOT EXISTS bridge_turns (
  id text PRIMARY KEY,
  trace_id text NOT NULL UNIQUE,
  session_id text NOT NULL,
  directory text NOT NULL,
  request jsonb NOT NULL,
  request_hash text NOT NULL,
  accepted_ms bigint NOT NULL,
  message_id text,
  state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'ended')),
  outcome text,
  owner text NOT NULL,
  fence bigint NOT NULL,
  lease_until timestamptz NOT NULL,
  ended_at timestamptz
);
-- v2: an ended turn stays leased by its daemon until its outputs acknowledged every reply (src/daemon/store/settle.ts).
ALTER TABLE bridge_turns ADD COLUMN IF NOT EXISTS settled boolean NOT NULL DEFAULT true;
CREATE INDEX IF NOT EXISTS bridge_turns_running ON bridge_turns (lease_until) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS bridge_turns_unsettled ON bridge_turns (lease_until) WHERE NOT settled;
CREATE INDEX IF NOT EXISTS bridge_turns_ended ON bridge_turns (ended_at) WHERE state = 'ended';
CREATE TABLE IF NOT EXISTS bridge_replies (
  turn_id text NOT NULL REFERENCES bridge_turns (id) ON DELETE CASCADE,
  seq integer NOT NULL CHECK (seq >= 0),
  body json NOT NULL,
  PRIMARY KEY (turn_id, seq)
);
CREATE TABLE IF NOT EXISTS bridge_acks (
  turn_id text NOT NULL REFERENCES bridge_turns (id) ON DELETE CASCADE,
  output text NOT NULL,
  seq integer NOT NULL,
  PRIMARY KEY (turn_id, output)
);
CREATE TABLE IF NOT EXISTS bridge_sessions (k text PRIMARY KEY, entry jsonb NOT NULL);
CREATE OR REPLACE FUNCTION bridge_notify_replies() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
  FOR t IN SELECT DISTINCT turn_id FROM new_rows LOOP PERFORM pg_notify('${CHANNEL}', t); END LOOP;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION bridge_notify_turn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${CHANNEL}', NEW.id);
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS bridge_replies_notify ON bridge_replies;
CREATE TRIGGER bridge_replies_notify AFTER INSERT ON bridge_replies
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bridge_notify_replies();
DROP TRIGGER IF EXISTS bridge_turns_notify ON bridge_turns;
CREATE TRIGGER bridge_turns_notify AFTER UPDATE OF state ON bridge_turns
  FOR EACH ROW WHEN (NEW.state = 'ended') EXECUTE FUNCTION bridge_notify_turn();
`;
