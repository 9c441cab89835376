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

// Under npx, npm runs us through `sh -c`, and a SIGTERM to npx stops npm and that
// shell but never reaches us: we would run on as an orphan (a daemon holding its
// port, an owned opencode serve). So when npm started us and our parent goes away,
// take it as the SIGTERM that was meant for us.
if (process.env.npm_command === "exec") {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, "SIGTERM");
  }, 1_000).unref();
}

process.exitCode = await main(process.argv.slice(2));
