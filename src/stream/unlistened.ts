/**
 * Frames of sessions nobody listens to, told from their raw text, before any
 * JSON.parse: on a stream shared by many sessions (one `/event` per server and
 * directory) a process that listens to one of a hundred busy sessions would
 * otherwise parse ninety-nine frames out of a hundred only to drop them
 * (`parseEventFor` drops an event of an unlistened session after the parse).
 *
 * Invariant: `unlistened(data, listening)` is true only for a frame whose parsed
 * event would be dropped anyway — `sessionOf(type, properties)` (src/codec/session.ts)
 * names a session for which `listening` is false, and the frame announces no child
 * session. It says so only for a frame in the form OpenCode 1.x writes (JSON.stringify:
 * no whitespace), read as:
 *
 *   {("id":"…",)?"type":"T","properties":{("id":"…",)?(("part"|"info"):{"id":"…",)?"sessionID":"S"…
 *
 * i.e. the session where `sessionOf` reads it first (`properties.sessionID`), or the
 * first keys of `properties.part`/`properties.info` (read when `properties` has no
 * `sessionID` of its own: any later `"sessionID"` key, wherever it is, must name an
 * unlistened session too, else the frame is parsed). Frames of `session.*` types
 * (where the session may be `info.id`, and where child sessions are announced), frames
 * in any other form, ids outside `[A-Za-z0-9_-]` and keys not followed by `:"` are
 * never skipped: they are parsed as before. test/unlistened.test.ts compares it with
 * the parse on every frame of every 1.x fixture.
 */

const HEAD = /^\{(?:"id":"[^"\\]*",)?"type":"([^"\\]*)","properties":\{(?:"id":"[^"\\]*",)?(?:"(?:part|info)":\{"id":"[^"\\]*",)?"sessionID":"([A-Za-z0-9_-]+)"/;
const KEY = '"sessionID"';
const ID = /^[A-Za-z0-9_-]+$/;

/** True when the frame is surely of a session nobody listens to (then it need not be parsed). */
export function unlistened(data: string, listening: (sessionID: string) => boolean): boolean {
  const m = HEAD.exec(data);
  if (m === null) return false;
  if ((m[1] as string).startsWith("session.") || listening(m[2] as string)) return false;
  // Any other "sessionID" key (a duplicate, `properties.sessionID` after `part`): unlistened too.
  for (let i = data.indexOf(KEY, m[0].length); i !== -1; i = data.indexOf(KEY, i + KEY.length)) {
    const from = i + KEY.length;
    if (data.charCodeAt(from) !== 58 /* : */ || data.charCodeAt(from + 1) !== 34 /* " */) return false;
    const end = data.indexOf('"', from + 2);
    const id = data.slice(from + 2, end);
    if (end === -1 || !ID.test(id) || listening(id)) return false;
  }
  return true;
}
