/**
 * Finding and killing what a test run left running, by the run's marker in the
 * environment (see test/global-setup.ts). Linux only (it reads /proc); elsewhere
 * it finds nothing.
 */
import { readdirSync, readFileSync } from "node:fs";
import { groupOf, RUN_MARKER, waitUntilGone } from "./processes.js";

export interface Leftover {
  readonly pid: number;
  readonly pgid: number;
  readonly command: string;
}

/** Processes (other than this one and its own group) whose environment carries `RUN_MARKER=run`. */
export function findRunProcesses(run: string): Leftover[] {
  const needle = `${RUN_MARKER}=${run}\0`;
  const ownGroup = groupOf(process.pid);
  const found: Leftover[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return found;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      if (!`${readFileSync(`/proc/${pid}/environ`, "latin1")}\0`.includes(needle)) continue;
      const pgid = groupOf(pid);
      // The runner and its workers share this process's group; what tests start never does.
      if (pgid === undefined || pgid === ownGroup) continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim().slice(0, 200);
      found.push({ pid, pgid, command });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** SIGKILL to every leftover of the run and its process group; resolves once they are gone (bounded). */
export async function killRunLeftovers(run: string, waitMs = 5_000): Promise<Leftover[]> {
  const left = findRunProcesses(run);
  for (const p of left) {
    for (const target of [-p.pgid, p.pid]) {
      try {
        process.kill(target, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  await waitUntilGone(
    left.map((p) => p.pid),
    waitMs,
  );
  return left;
}
