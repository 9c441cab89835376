/**
 * A child process serving one very long turn on GET /event, generated on the fly
 * from the real 1.18.33 `long` capture (so the benchmark's own process holds none
 * of the stream): the capture's frames up to its first delta, then `deltas`
 * copies of its `message.part.delta` frame with fresh event ids and the texts
 * `w0 `, `w1 ` … (the capture's own pattern), then the capture's frames after its
 * last delta, the part's closing `message.part.updated` carrying the whole text
 * as the server sends it.
 *
 *   node --import tsx bench/lib/long-server.ts <deltas>   → prints {"port":…}
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES } from "../../test/support/fixtures.js";
import { splitFrames } from "./frames.js";

const deltas = Number(process.argv[2] ?? 1_000_000);
const frames = splitFrames(readFileSync(join(FIXTURES, "1.18.33", "long.sse"), "utf8"), "1.18.33/long");
const first = frames.findIndex((f) => f.includes('"type":"message.part.delta"'));
const last = frames.findLastIndex((f) => f.includes('"type":"message.part.delta"'));
const template = frames[first] as string;
const capturedText = frames
  .slice(first, last + 1)
  .map((f) => (JSON.parse(f.slice(6)) as { properties: { delta: string } }).properties.delta)
  .join("");

// `data: {"id":"evt_<26>","type":"message.part.delta",…,"delta":"w0 "}}`, cut around the id and the text.
const m = /^(data: \{"id":"evt_)([0-9A-Za-z]{12})[0-9A-Za-z]{14}(".*"delta":")([^"]*)("\}\})$/.exec(template);
if (!m) throw new Error(`unexpected delta frame: ${template}`);
const [, head, stamp, middle, , tail] = m as unknown as [string, string, string, string, string, string];
const B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
function code(n: number): string {
  let s = "";
  for (let i = 0; i < 14; i++) {
    s = B62[n % 62] + s;
    n = Math.floor(n / 62);
  }
  return s;
}
const deltaFrame = (i: number) => `${head}${stamp}${code(i)}${middle}w${i} ${tail}\n\n`;

function fullText(): string {
  const parts: string[] = new Array<string>(deltas);
  for (let i = 0; i < deltas; i++) parts[i] = `w${i} `;
  return parts.join("");
}
const TEXT = fullText();

const server = createServer((req, res) => {
  if (req.method !== "GET" || !(req.url ?? "").startsWith("/event")) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.socket?.setNoDelay(true);
  void (async () => {
    const write = async (s: string) => {
      if (!res.write(s)) await new Promise<void>((resolve) => res.once("drain", () => resolve()));
    };
    for (const f of frames.slice(0, first)) await write(`${f}\n\n`);
    let batch = "";
    for (let i = 0; i < deltas; i++) {
      batch += deltaFrame(i);
      if (batch.length >= 64 * 1024) {
        await write(batch);
        batch = "";
      }
    }
    if (batch !== "") await write(batch);
    for (const f of frames.slice(last + 1)) {
      // The part's closing update carries its whole text, as the server sends it.
      await write(`${f.replace(`"text":"${capturedText}"`, `"text":"${TEXT}"`)}\n\n`);
    }
    res.end();
  })();
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, text_chars: TEXT.length })}\n`);
});
