/**
 * What a command touches of its process, injectable so that the CLI runs
 * in-process in tests: output streams, environment, working directory, and
 * interrupt/termination signals.
 */
import type { Writable } from "node:stream";

export type Output = Writable & { isTTY?: boolean };

export interface CliIo {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Run `handler` on each of these signals until the returned function is called. */
  onSignal(signals: readonly NodeJS.Signals[], handler: (signal: NodeJS.Signals) => void): () => void;
  /** Leave at once with this status (a second Ctrl-C). */
  exit(code: number): void;
}

/** The real process. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    onSignal(signals, handler) {
      for (const s of signals) process.on(s, handler);
      return () => {
        for (const s of signals) process.off(s, handler);
      };
    },
    exit: (code) => process.exit(code),
  };
}

/**
 * Ctrl-C for a one-turn command: the first press calls `abort`, a second quits at
 * once with 130. Under `npx` (and other wrappers that forward signals) one press
 * arrives twice — once from the terminal, once forwarded — so presses closer than
 * `sameWithinMs` count as one.
 */
export function onInterrupt(
  io: CliIo,
  say: (s: string) => void,
  abort: () => void,
  now: () => number = Date.now,
  sameWithinMs = 500,
): () => void {
  let first: number | undefined;
  return io.onSignal(["SIGINT"], () => {
    const t = now();
    if (first === undefined) {
      first = t;
      say("aborting the turn (Ctrl-C again to quit at once)");
      abort();
    } else if (t - first >= sameWithinMs) {
      io.exit(130);
    }
  });
}
