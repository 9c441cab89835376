/**
 * Processes a test starts, and how they are always stopped.
 *
 * Every child is spawned as the leader of its own process group (`detached`), so
 * that stopping it reaches whatever it started in turn (an `opencode serve` it
 * owns, a launcher's real server). Each run is bounded: past `timeoutMs` the
 * whole group is killed and the result says so. Whatever a test still leaves
 * behind — it timed out, a hook never ran — is killed by the global teardown
 * (test/global-setup.ts), which finds every process of the run by the marker
 * it put in the environment every test process inherits.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Set by the global setup; inherited by every process a test starts (through process.env). */
export const RUN_MARKER = "OPENCODE_BRIDGE_TEST_RUN";

export interface RunResult {
  /** Exit status, or null when a signal ended it. */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Killed because it outlived `timeoutMs`. */
  readonly timedOut: boolean;
}

/** SIGKILL to the process group led by `pid`; a group already gone is fine. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals = "SIGKILL"): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left of the group.
  }
}

/** Whether any process of the group led by `pid` is still alive. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface Spawned {
  readonly child: ChildProcess;
  /** Resolves when the child has exited and its output is read. */
  readonly done: Promise<RunResult>;
  /** Kill the child's whole process group. */
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Start `command` in its own process group, collecting its output. It is killed
 * (group-wide) after `timeoutMs`; `done` resolves either way.
 */
export function spawnGroup(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number; stdio?: SpawnOptions["stdio"] },
): Spawned {
  const child = spawn(command, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    detached: true,
    stdio: opts.stdio ?? ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, opts.timeoutMs);
  const done = new Promise<RunResult>((resolve) => {
    child.once("error", (err) => {
      clearTimeout(timer);
      resolve({ status: null, signal: null, stdout, stderr: `${stderr}${String(err)}`, timedOut });
    });
    child.once("close", (status, signal) => {
      clearTimeout(timer);
      // Whatever the child started and left running goes with it.
      killGroup(child.pid);
      resolve({ status, signal, stdout, stderr, timedOut });
    });
  });
  return { child, done, kill: (signal = "SIGKILL") => killGroup(child.pid, signal) };
}

/** `spawnGroup`, awaited. */
export function runGroup(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number },
): Promise<RunResult> {
  return spawnGroup(command, args, opts).done;
}

/** The fields of /proc/PID/stat after the command name (state, ppid, pgrp, ...); undefined when gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a running process (a zombie waiting to be reaped is not). */
export function isRunning(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== "Z";
}

/** The process group of `pid`; undefined when it is gone. */
export function groupOf(pid: number): number | undefined {
  const pgrp = statFields(pid)?.[2];
  return pgrp === undefined ? undefined : Number(pgrp);
}

/** Running processes of the process group `pgid` (Linux; elsewhere none are found). */
export function groupMembers(pgid: number): number[] {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  return names.filter((n) => /^\d+$/.test(n) && groupOf(Number(n)) === pgid && isRunning(Number(n))).map(Number);
}

/** Polls until none of `pids` runs, or `timeoutMs` has passed; returns those still running. */
export async function waitUntilGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter(isRunning);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}
