#!/usr/bin/env node
/**
 * The opencode-bridge command line. See USAGE in ./usage.ts.
 * Exit codes: 0 the turn ended `final` (serve: shut down cleanly), 1 it ended
 * `error` (serve: could not start), 2 bad usage.
 */
import { runDemo } from "./demo.js";
import { runPrompt } from "./prompt.js";
import { runReplay } from "./replay.js";
import { runServe } from "./serve.js";
import { USAGE, UsageError } from "./usage.js";

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    switch (command) {
      case "replay":
        return await runReplay(rest);
      case "prompt":
        return await runPrompt(rest);
      case "serve":
        return await runServe(rest);
      case "demo":
        return await runDemo(rest);
      case "-h":
      case "--help":
      case "help":
        process.stdout.write(USAGE);
        return 0;
      case undefined:
        process.stderr.write(USAGE);
        return 2;
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`opencode-bridge: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`opencode-bridge: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
