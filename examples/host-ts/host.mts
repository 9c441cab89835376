/**
 * A minimal host: runs one turn through the bridge and records every reply with
 * a recorder of its own (here: one JSON Lines file per trace id).
 *
 * With OPENCODE_URL (and OPENCODE_DIRECTORY, OPENCODE_SERVER_PASSWORD) it talks to
 * your OpenCode; without, it starts the offline scripted model and an owned
 * `opencode serve` (no API key needed).
 *
 *   npx tsx examples/host-ts/host.mts "[scenario:tool] run the tool"
 */
import { appendFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { OpencodeAdapter, type Reply } from "opencode-bridge";
import { startScriptedOpencode } from "opencode-bridge/scripted-model";

/** The host's own recorder: replies of a turn appended, in order, to recordings/<trace_id>.jsonl. */
class Recorder {
  constructor(private readonly dir: string) {}
  async append(reply: Reply): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await appendFile(join(this.dir, `${reply.trace_id}.jsonl`), `${JSON.stringify(reply)}\n`);
  }
}

const text = process.argv[2] ?? "[scenario:tool] Run the tool, please.";
const recorder = new Recorder(join(process.cwd(), "recordings"));

const scripted = process.env.OPENCODE_URL ? undefined : await startScriptedOpencode({ permission: "allow" });
const adapter = new OpencodeAdapter(
  {
    baseUrl: scripted?.url ?? (process.env.OPENCODE_URL as string),
    directory: scripted?.directory ?? process.env.OPENCODE_DIRECTORY ?? process.cwd(),
    password: scripted?.password ?? process.env.OPENCODE_SERVER_PASSWORD,
  },
  // The sink: called once per reply, in seq order, each awaited before the next.
  (reply) => recorder.append(reply),
);

try {
  const result = await adapter.prompt(text, { traceId: `host-${Date.now()}` });
  console.log(`turn ${result.traceId} ended ${result.status}; ${result.replies} replies in recordings/${result.traceId}.jsonl`);
  if (result.status === "error") console.log(`error ${result.error?.code}: ${result.error?.error}`);
  process.exitCode = result.status === "final" ? 0 : 1;
} finally {
  await adapter.close();
  await scripted?.stop();
}
