// The file floor: read a recorded stream, eventsource-parser + JSON.parse of every
// frame, nothing else. Plain JavaScript, so that it starts as fast as the built CLI.
//   node bench/lib/file-floor.mjs <file.sse>   → prints the number of events
import { createReadStream } from "node:fs";
import { createParser } from "eventsource-parser";

let n = 0;
const parser = createParser({
  onEvent: (e) => {
    JSON.parse(e.data);
    n++;
  },
});
const decoder = new TextDecoder();
for await (const chunk of createReadStream(process.argv[2], { highWaterMark: 256 * 1024 })) {
  parser.feed(decoder.decode(chunk, { stream: true }));
}
process.stdout.write(`${n}\n`);
