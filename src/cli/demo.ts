/**
 * `opencode-bridge demo`: one command, offline, no API key. It starts the
 * scripted model, a throw-away project wired to it and an `opencode serve` the
 * demo owns (installing the pinned opencode-ai into .cache on first use), runs
 * one turn that streams text and calls a tool, shows it, and removes everything.
 *
 * The turn's view goes to stdout (readable, or JSON Lines with --jsonl); what
 * the demo is doing goes to stderr, so stdout stays clean for --jsonl.
 */
import { parseArgs } from "node:util";
import pino from "pino";
import { OpencodeAdapter } from "../adapter/adapter.js";
import type { Script } from "../scripted-model/scripts.js";
import { startScriptedModel, type ScriptedModel } from "../scripted-model/server.js";
import { cachedOpencodeBinary, cacheDir, ensureOpencode, PINNED_OPENCODE_VERSION } from "../server/install.js";
import { OwnedServer } from "../server/owned.js";
import { createScriptedProject, type ScriptedProject } from "../server/scripted-project.js";
import { JsonlSink } from "../sink/jsonl.js";
import type { SinkObject } from "../sink/types.js";
import { PrettySink } from "./pretty.js";
import { UsageError } from "./usage.js";

const words = (s: string): string[] => s.match(/\S+\s*/g) ?? [];

/** The demo's script: stream a sentence, read a file of the project with a tool, then answer. */
export const DEMO_SCRIPT: Script = [
  {
    kind: "stream",
    text: words("Hello! I am a scripted model running on your machine. Let me look at the project with a tool."),
    chunkDelayMs: 40,
    toolCalls: [{ id: "call_demo_1", name: "bash", arguments: { command: "cat greeting.txt", description: "Read the demo file" } }],
  },
  {
    kind: "stream",
    text: words("The file says hello from opencode-bridge. That was one turn: streamed text, a tool call and its result."),
    chunkDelayMs: 40,
  },
];

export const DEMO_PROMPT = "[scenario:demo] Show me what the bridge does.";

export async function runDemo(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: false,
    options: {
      jsonl: { type: "boolean" },
      "log-level": { type: "string" },
    },
  });
  if (positionals.length > 0) throw new UsageError(`demo takes no arguments, got ${JSON.stringify(positionals.join(" "))}`);
  const say = (s: string) => process.stderr.write(`demo: ${s}\n`);
  const logger = pino({ level: values["log-level"] ?? process.env.LOG_LEVEL ?? "warn" }, pino.destination(2));
  const sink: SinkObject = values.jsonl ? new JsonlSink(process.stdout) : new PrettySink(process.stdout);

  let model: ScriptedModel | undefined;
  let project: ScriptedProject | undefined;
  let owned: OwnedServer | undefined;
  let adapter: OpencodeAdapter | undefined;
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      say("aborting the turn (Ctrl-C again to quit at once)");
      ac.abort();
    } else {
      process.exit(130);
    }
  };
  process.on("SIGINT", onSigint);
  try {
    let binary = process.env.OPENCODE_BIN;
    if (binary === undefined) {
      if (cachedOpencodeBinary(PINNED_OPENCODE_VERSION) === undefined) {
        say(
          `installing opencode-ai@${PINNED_OPENCODE_VERSION} into ${cacheDir(PINNED_OPENCODE_VERSION)} (first run only; this needs npm and the network, and can take a minute)`,
        );
      }
      try {
        binary = await ensureOpencode(PINNED_OPENCODE_VERSION);
      } catch (err) {
        say(`could not install opencode-ai@${PINNED_OPENCODE_VERSION}: ${(err as Error).message.split("\n")[0]}`);
        say("install it yourself (npm i -g opencode-ai) and set OPENCODE_BIN to its binary, then run the demo again");
        return 1;
      }
    }

    model = await startScriptedModel({ extraScripts: { demo: DEMO_SCRIPT } });
    say(`scripted model (offline, no API key) on ${model.url}`);
    project = await createScriptedProject({
      modelUrl: model.url,
      permission: "allow",
      files: { "greeting.txt": "hello from opencode-bridge\n" },
    });
    owned = new OwnedServer({ directory: project.dir, binary, env: project.env, logger, readyTimeoutMs: 60_000 });
    const server = await owned.ensure();
    say(`opencode serve ${server.version} on ${server.url}, project ${project.dir}`);

    adapter = new OpencodeAdapter({ baseUrl: server.url, directory: project.dir, password: owned.password, logger }, sink);
    say(`prompt: ${DEMO_PROMPT}`);
    const result = await adapter.prompt(DEMO_PROMPT, {
      traceId: "demo",
      model: project.model,
      signal: ac.signal,
    });
    say(`the turn ended ${result.status} after ${result.replies} replies`);
    return result.status === "final" ? 0 : 1;
  } finally {
    process.off("SIGINT", onSigint);
    await adapter?.close().catch(() => {});
    await owned?.stop().catch(() => {});
    await model?.close().catch(() => {});
    await project?.cleanup().catch(() => {});
    say("cleaned up");
  }
}
