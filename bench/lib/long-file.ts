/**
 * A recorded stream of `events` events built from the real 1.15.13 `long`
 * capture, written to a file at bench time (not committed: 1,000,000 events are
 * 253 MB): the capture's frames up to its first delta, its 1,200
 * `message.part.delta` frames repeated in order (each copy with a fresh event id
 * of the same length, the texts as captured), then its frames after its last
 * delta. The part's closing `message.part.updated` carries the capture's text, a
 * prefix of what was streamed, so the turn ends `final`.
 */
import { createWriteStream, readFileSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { FIXTURES } from "../../test/support/fixtures.js";
import { splitFrames } from "./frames.js";

const B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
function code(n: number, width: number): string {
  let s = "";
  for (let i = 0; i < width; i++) {
    s = B62[n % 62] + s;
    n = Math.floor(n / 62);
  }
  return s;
}

export interface LongFile {
  readonly path: string;
  readonly events: number;
  readonly bytes: number;
  /** Replies the turn produces: one per delta, then `final`. */
  readonly replies: number;
}

export async function writeLongFile(path: string, events: number): Promise<LongFile> {
  const frames = splitFrames(readFileSync(join(FIXTURES, "1.15.13", "long.sse"), "utf8"), "1.15.13/long");
  const isDelta = (f: string) => f.includes('"type":"message.part.delta"');
  const first = frames.findIndex(isDelta);
  const last = frames.findLastIndex(isDelta);
  const head = frames.slice(0, first);
  const deltas = frames.slice(first, last + 1);
  const tail = frames.slice(last + 1);
  const n = events - head.length - tail.length;
  if (n < deltas.length) throw new Error(`need at least ${head.length + tail.length + deltas.length} events`);
  const out = createWriteStream(path);
  let bytes = 0;
  let batch = "";
  const put = async (s: string) => {
    batch += s;
    if (batch.length < 1 << 20) return;
    bytes += Buffer.byteLength(batch);
    if (!out.write(batch)) await once(out, "drain");
    batch = "";
  };
  for (const f of head) await put(`${f}\n\n`);
  for (let i = 0; i < n; i++) {
    const f = deltas[i % deltas.length] as string;
    // evt_ + 12 characters of the server's time-ordered part + 14 fresh ones
    await put(`${f.replace(/"id":"evt_([0-9A-Za-z]{12})[0-9A-Za-z]{14}"/, (_m, stamp: string) => `"id":"evt_${stamp}${code(i, 14)}"`)}\n\n`);
  }
  for (const f of tail) await put(`${f}\n\n`);
  bytes += Buffer.byteLength(batch);
  out.end(batch);
  await once(out, "close");
  return { path, events, bytes, replies: n + 1 };
}
