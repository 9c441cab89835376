#!/usr/bin/env node
/**
 * The `opencode-bridge` executable: runs `main` (./cli.ts) on this process.
 * Exit status: 0 the turn ended `final` (serve: shut down cleanly), 1 it ended
 * `error` or the command failed, 2 bad usage, 130 a second Ctrl-C.
 */
import { main } from "./cli.js";

// A closed stdout (`opencode-bridge doctor | head -1`) ends any command quietly:
// the reader has what it wanted, so no stack trace, and the status so far.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(process.exitCode ?? 0);
});

process.exitCode = await main(process.argv.slice(2));
