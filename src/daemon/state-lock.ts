/**
 * One daemon per state directory: `daemon.pid` names the daemon using it, by its
 * pid and its start time, so that a pid the system has given to another process
 * since (a daemon killed long ago) is not taken for it.
 */
import { readFileSync, realpathSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { errorMessage } from "../util/errors.js";

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
