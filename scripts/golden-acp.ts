/**
 * Writes the golden replies of every ACP capture (test/fixtures/acp/<agent>/<name>.jsonl
 * → <name>.replies.json) by replaying it (src/acp/replay.ts). Run after a new capture,
 * then read the diff: the goldens are what test/acp-replay.test.ts holds the codec to.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseCapture, replayAcpCapture } from "../src/acp/replay.js";

const root = join("test", "fixtures", "acp");
for (const agent of readdirSync(root)) {
  for (const file of readdirSync(join(root, agent)).filter((f) => f.endsWith(".jsonl"))) {
    const r = replayAcpCapture(parseCapture(readFileSync(join(root, agent, file), "utf8")));
    const golden = join(root, agent, file.replace(/\.jsonl$/, ".replies.json"));
    writeFileSync(golden, JSON.stringify({ replies: r.replies, requests: r.requests, unanswered: r.unanswered }, null, 1) + "\n");
    console.log(`${golden}: ${r.replies.length} replies, ${r.requests.length} requests${r.unanswered ? ", unanswered" : ""}`);
  }
}
