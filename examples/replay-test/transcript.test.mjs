/**
 * A replay-based test of a host: a stream recorded from a real `opencode serve`
 * (tool.sse, raw /event bytes) is replayed through the bridge's codec into the
 * host's sink, with no server, no model and no network.
 *
 *   node --test examples/replay-test/
 */
import assert from "node:assert/strict";
import { createReadStream, readFileSync } from "node:fs";
import { test } from "node:test";
import { URL } from "node:url";
import { contractViolations, replay } from "opencode-bridge/codec";
import { Transcript } from "./transcript.mjs";

const recording = new URL("./tool.sse", import.meta.url);

test("a turn with a tool call renders as text, the tool with its output, text", async () => {
  const transcript = new Transcript();
  const result = await replay(createReadStream(recording), { traceId: "t-1", onReply: transcript.onReply });

  assert.deepEqual(contractViolations(result.replies), []); // the bridge kept its contract
  assert.deepEqual(
    transcript.entries.map((e) => (e.type === "text" ? e.text : `[${e.tool} ${e.status}: ${e.output.trim()}]`)),
    ["Let me run a command.", "[bash completed: bridge-tool-ok]", "The command printed bridge-tool-ok."],
  );
  assert.deepEqual(transcript.end, { status: "final", text: "Let me run a command.The command printed bridge-tool-ok." });
});

test("a stream cut before the turn ends shows as an error, not a hang", async () => {
  const transcript = new Transcript();
  // Only the first third of the recording: the bridge ends the turn with one error reply.
  const bytes = readFileSync(recording, "utf8");
  await replay([bytes.slice(0, Math.floor(bytes.length / 3))], { traceId: "t-2", onReply: transcript.onReply });
  assert.equal(transcript.end?.status, "error");
  assert.equal(transcript.end?.code, "transport");
});
