/**
 * `opencode-bridge demo`: one command, offline, no API key. It starts the
 * scripted model, a throw-away project wired to it and an `opencode serve` the
 * demo owns (installing the pinned OpenCode — 1.x by default, 2.x with
 * `--opencode-version 2` — into the per-user cache on first use), runs
 * one turn that streams text and calls a tool, shows it, and removes everything.
 *
 * The turn's view goes to stdout (readable, or JSON Lines with --jsonl); what
 * the demo is doing goes to stderr, so stdout stays clean for --jsonl.
 */
import { OpencodeAdapter } from "../adapter/adapter.js";
import { startScriptedOpencode, type ScriptedOpencode } from "../scripted-model/opencode.js";
import { bash, callsThen, type Script } from "../scripted-model/scripts.js";
import { InstallError, opencodePackage, PINNED_OPENCODE_VERSION } from "../server/install.js";
import { SCRIPTED_MODEL, SCRIPTED_PROVIDER } from "../server/scripted-project.js";
import { JsonlSink } from "../sink/jsonl.js";
import type { SinkObject } from "../sink/types.js";
import { installReporter } from "./install-report.js";
import { type CliIo, INTERRUPTED, onInterrupt } from "./io.js";
import { PrettySink } from "./pretty.js";
import { cliLogger, logLevel, opencodeVersionOption, parseOptions } from "./usage.js";
import { errorMessage } from "../util/errors.js";

/** The demo's script: stream a sentence, read a file of the project with a tool, then answer. */
const DEMO_SCRIPT: Script = callsThen(
  [bash("call_demo_1", "cat greeting.txt", "Read the demo file")],
  "The file says hello from opencode-bridge. That was one turn: streamed text, a tool call and its result.",
  "Hello! I am a scripted model running on your machine. Let me look at the project with a tool.",
  40,
);

const DEMO_PROMPT = "[scenario:demo] Show me what the bridge does.";

export async function runDemo(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions(
    "demo",
    args,
    { jsonl: { type: "boolean" }, "log-level": { type: "string" }, "opencode-version": { type: "string" } },
    false,
  );
  const version = opencodeVersionOption(values["opencode-version"]);
  const level = logLevel(values["log-level"], io.env, "warn");
  const say = (s: string) => io.stderr.write(`demo: ${s}\n`);
  const logger = cliLogger(level, io.stderr);
  const sink: SinkObject = values.jsonl ? new JsonlSink(io.stdout) : new PrettySink(io.stdout);

  let opencode: ScriptedOpencode | undefined;
  let adapter: OpencodeAdapter | undefined;
  const interrupt = onInterrupt(io, say);
  try {
    try {
      opencode = await startScriptedOpencode({
        // A version asked for on the command line wins over $OPENCODE_BIN.
        ...(version !== undefined ? { version } : { binary: io.env.OPENCODE_BIN || undefined }),
        permission: "allow",
        files: { "greeting.txt": "hello from opencode-bridge\n" },
        extraScripts: { demo: DEMO_SCRIPT },
        logger,
        onInstall: installReporter(say),
      });
    } catch (err) {
      say(errorMessage(err).split("\n")[0] ?? "");
      if (err instanceof InstallError) {
        const v = version ?? PINNED_OPENCODE_VERSION;
        say(`or install it yourself (npm i -g ${opencodePackage(v)}@${v}) and set OPENCODE_BIN to its opencode binary`);
      }
      return 1;
    }
    say(`scripted model (offline, no API key) on ${opencode.model.url}`);
    say(`opencode serve ${opencode.version} (OpenCode ${opencode.line}.x) on ${opencode.url}, project ${opencode.directory}`);

    // Ctrl-C while the servers were starting: there is no turn to abort.
    if (interrupt.signal.aborted) return INTERRUPTED;
    adapter = new OpencodeAdapter(
      { baseUrl: opencode.url, directory: opencode.directory, password: opencode.password, line: opencode.line, logger },
      sink,
    );
    say(`prompt: ${DEMO_PROMPT}`);
    const result = await adapter.prompt(DEMO_PROMPT, {
      traceId: "demo",
      model: `${SCRIPTED_PROVIDER}/${SCRIPTED_MODEL}`,
      signal: interrupt.signal,
    });
    say(`the turn ended ${result.status} after ${result.replies} replies`);
    if (interrupt.signal.aborted) return INTERRUPTED;
    return result.status === "final" ? 0 : 1;
  } finally {
    interrupt.off();
    await adapter?.close().catch(() => {});
    await opencode?.stop().catch(() => {});
    say("cleaned up");
  }
}
