/**
 * Write the expected replies of every captured fixture:
 *   test/fixtures/<version>/<scenario>.sse → <scenario>.jsonl
 * (1.x `/event` streams through the codec; 2.x `/api/event` streams through src/codec/v2 first)
 *
 *   npm run golden
 *
 * Review the diff before committing: the tests hold the codec to these files and
 * check them independently against the server's own record (<scenario>.messages.json).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { replaySync } from "../src/codec/replay.js";
import { replayV2Sync } from "../src/codec/v2/index.js";

const root = "test/fixtures";
for (const version of readdirSync(root).sort()) {
  const dir = join(root, version);
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sse")).sort()) {
    const scenario = file.slice(0, -".sse".length);
    // A 2.x capture (`/api/event`) is read through the 2.x translator (src/codec/v2).
    const replay = Number.parseInt(version, 10) >= 2 ? replayV2Sync : replaySync;
    const { replies, issues } = replay([readFileSync(join(dir, file))], { traceId: `trace-${scenario}` });
    if (issues.length > 0) console.error(`${version}/${file}: ${issues.map((i) => i.message).join("; ")}`);
    writeFileSync(join(dir, `${scenario}.jsonl`), replies.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const last = replies[replies.length - 1];
    console.error(`${version}/${scenario}: ${replies.length} replies, ends ${last?.kind}`);
  }
}
