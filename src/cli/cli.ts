/**
 * The `opencode-bridge` command, runnable in-process: `main(argv, io)` resolves
 * with the exit status. Usage errors are one line plus a pointer to the
 * command's help, exit 2; `--help`/`-h` anywhere prints the command's help.
 */
import { type CliIo, processIo } from "./io.js";
import { escapeControls, runReplay } from "./replay.js";
import { COMMANDS, HELP, overview } from "./help.js";
import { UsageError } from "./usage.js";

type Command = (args: string[], io: CliIo) => Promise<number>;

// Each command loads its own modules when it runs: `replay` of a file never loads the
// daemon, the ACP SDK, undici or the installer (~0.6 s of start-up on this machine).
const RUN: Readonly<Record<string, Command>> = {
  prompt: async (args, io) => (await import("./prompt.js")).runPrompt(args, io),
  serve: async (args, io) => (await import("./serve.js")).runServe(args, io),
  replay: runReplay,
  demo: async (args, io) => (await import("./demo.js")).runDemo(args, io),
  "scripted-model": async (args, io) => (await import("./scripted-model.js")).runScriptedModel(args, io),
  install: async (args, io) => (await import("./doctor.js")).runInstall(args, io),
  doctor: async (args, io) => (await import("./doctor.js")).runDoctor(args, io),
};

export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  const helpOf = (c: string) => HELP[c] ?? overview();
  if (command === undefined) {
    io.stderr.write(overview());
    return 2;
  }
  if (command === "--version" || command === "-V" || command === "version") {
    io.stdout.write(`opencode-bridge ${(await import("../daemon/status.js")).BRIDGE_VERSION}\n`);
    return 0;
  }
  if (command === "help" || command === "--help" || command === "-h") {
    const topic = rest[0];
    if (topic !== undefined && HELP[topic] === undefined) {
      io.stderr.write(`opencode-bridge: no command ${escapeControls(topic)}\nsee \`opencode-bridge --help\`\n`);
      return 2;
    }
    io.stdout.write(topic === undefined ? overview() : helpOf(topic));
    return 0;
  }
  const run = RUN[command];
  if (run === undefined) {
    const hint = COMMANDS.find((c) => c.startsWith(command) || command.startsWith(c));
    io.stderr.write(
      `opencode-bridge: unknown command ${escapeControls(JSON.stringify(command))}${hint ? ` (did you mean ${hint}?)` : ""}\nsee \`opencode-bridge --help\`\n`,
    );
    return 2;
  }
  // Help wins over everything else on the line, but not after `--` (where it may be prompt text).
  const end = rest.indexOf("--");
  const options = end === -1 ? rest : rest.slice(0, end);
  if (options.includes("--help") || options.includes("-h")) {
    io.stdout.write(helpOf(command));
    return 0;
  }
  try {
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`opencode-bridge: ${escapeControls(err.message)}\nsee \`opencode-bridge ${err.command ?? command} --help\`\n`);
      return 2;
    }
    io.stderr.write(`opencode-bridge: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}
