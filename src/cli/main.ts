#!/usr/bin/env node
/**
 * The `opencode-bridge` executable: runs `main` (./cli.ts) on this process.
 * Exit status: 0 the turn ended `final` (serve: shut down cleanly), 1 it ended
 * `error` or the command failed, 2 bad usage, 130 a second Ctrl-C.
 */
import { main } from "./cli.js";

process.exitCode = await main(process.argv.slice(2));
