/**
 * The daemon's state directory: its generated token and its journal. Created
 * owner-only (0700); the token file is 0600, as notebook servers keep theirs.
 *
 * One daemon per state directory: `daemon.pid` names the daemon using it, by its
 * pid and its start time, so that a pid the system has given to another process
 * since (a daemon killed long ago) is not taken for it.
 *
 * Default: `$XDG_STATE_HOME/opencode-bridge`, else `~/.local/state/opencode-bridge`.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, realpathSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { errorMessage } from "../util/errors.js";

/** The files the daemon keeps in its state directory (journal segments are journal.<n>.jsonl). */
const STATE_FILES = ["token", "sessions.json", "journal.jsonl", "journal.next.jsonl", "daemon.pid"];

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME !== "" ? env.XDG_STATE_HOME : join(homedir(), ".local", "state");
  return join(base, "opencode-bridge");
}

/** Creates the directory owner-only if missing; throws a sentence when it cannot be used. */
export function openStateDir(dir: string): void {
  try {
    makeDirs(dir);
    const st = statSync(dir);
    if (!st.isDirectory()) throw new Error("it is not a directory");
    if (typeof process.getuid === "function" && st.uid === process.getuid() && (st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
    // The daemon's files must be files: a directory in their place is a mistake to name, not a stack trace.
    for (const name of STATE_FILES) {
      const f = join(dir, name);
      if (statSync(f, { throwIfNoEntry: false })?.isFile() === false) throw new Error(`${f} is not a regular file; move it out of the way`);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot use the state directory ${dir}: ${e.code !== undefined ? e.code : e.message}`);
  }
}

/**
 * `mkdir -p`, one level at a time: Node 20's recursive mkdirSync never returns
 * under some pseudo file systems (a path below /proc spins forever).
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; statSync(d, { throwIfNoEntry: false }) === undefined; d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

/**
 * The token stored in `dir/token`, or a new one (32 random bytes, base64url)
 * written there readable by the owner only. `created` says which.
 */
export function loadOrCreateToken(dir: string): { token: string; file: string; created: boolean } {
  const file = join(dir, "token");
  try {
    const token = readFileSync(file, "utf8").trim();
    if (token.length >= 16) {
      chmodSync(file, 0o600);
      return { token, file, created: false };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`cannot read the token file ${file}: ${errorMessage(err)}`);
  }
  const token = randomBytes(32).toString("base64url");
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, file, created: true };
}

const lockFile = (dir: string) => join(dir, "daemon.pid");

/**
 * Takes the directory. Throws when another live daemon holds it; returns why the
 * daemon cannot write there (a full or read-only directory: it starts, serves what
 * it has, and refuses new turns), or undefined.
 */
export function lockStateDir(dir: string): string | undefined {
  let held = "";
  try {
    held = readFileSync(lockFile(dir), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const [pidText, started] = held.split("\n");
  const pid = Number(pidText?.trim());
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isOurDaemon(pid, started?.trim())) {
    throw new Error(`the state directory ${dir} is in use by another daemon (pid ${pid}); give each daemon its own --state-dir`);
  }
  try {
    writeFileSync(lockFile(dir), `${process.pid}\n${startTime(process.pid) ?? ""}\n`, { mode: 0o600 });
    return undefined;
  } catch (err) {
    return `the state directory cannot be written: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`;
  }
}

/** Lets go of the directory (when this process holds it). */
export function unlockStateDir(dir: string): void {
  try {
    if (readFileSync(lockFile(dir), "utf8").split("\n")[0] === String(process.pid)) unlinkSync(lockFile(dir));
  } catch {
    // Gone already: nothing to let go of.
  }
}

/** The process's start time in clock ticks since boot (Linux), or undefined. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Is `pid` alive and the daemon that wrote the pid file (same start time; without one, a Node process running `serve`)? */
function isOurDaemon(pid: number, started: string | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const now = startTime(pid);
  if (now === undefined) return true; // no /proc: alive is all we can tell
  if (started) return started === now;
  // An old pid-only file: a daemon is this same Node binary running `serve`.
  try {
    return realpathSync(`/proc/${pid}/exe`) === realpathSync(process.execPath) && readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("serve");
  } catch {
    return true;
  }
}
