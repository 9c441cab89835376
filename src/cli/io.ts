/**
 * What a command touches of its process, injectable so that the CLI runs
 * in-process in tests: output streams, environment, working directory, and
 * interrupt/termination signals.
 */
import type { Readable, Writable } from "node:stream";

export type Output = Writable & { isTTY?: boolean };
export type Input = Readable & { isTTY?: boolean };

export interface CliIo {
  readonly stdout: Output;
  readonly stderr: Output;
  /** Where a person answers requests (`prompt` on a terminal); absent: nobody can. */
  readonly stdin?: Input;
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
    stdin: process.stdin,
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

/** Exit status of a command interrupted by Ctrl-C (128 + SIGINT), the shell's convention and what npx reports. */
export const INTERRUPTED = 130;

/**
 * Ctrl-C (or SIGTERM) for a one-turn command: the first aborts `signal` (the turn
 * ends `aborted` and the command exits 130); a second quits at once with 130.
 */
export function onInterrupt(io: CliIo, say: (s: string) => void): { off: () => void; signal: AbortSignal } {
  const ac = new AbortController();
  // SIGTERM too: the turn is aborted and what the command started is stopped, not orphaned.
  const off = io.onSignal(["SIGINT", "SIGTERM"], () => {
    if (ac.signal.aborted) return io.exit(INTERRUPTED);
    say("aborting the turn (Ctrl-C again to quit at once)");
    ac.abort();
  });
  return { off, signal: ac.signal };
}
