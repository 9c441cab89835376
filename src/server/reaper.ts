/**
 * No orphaned `opencode serve`: a reaper process that stops a server's process
 * group when the process that started it dies, however it dies.
 *
 * Node has no PR_SET_PDEATHSIG, and a process killed with -9 runs no exit hook,
 * so the bridge cannot stop its server on the way out. The kernel does one thing
 * for every dead process, though: it closes its file descriptors. The reaper is
 * a tiny Node process holding the read end of a pipe whose only write end is in
 * the bridge (Node opens pipes close-on-exec, so no other child inherits it).
 * Nothing is ever written; when the read end sees EOF, the bridge is gone (or
 * has released the server), and the reaper sends SIGTERM to the server's process
 * group, SIGKILL after a grace period, and exits — at once when the group is gone.
 *
 * The reaper runs in its own session (detached): a signal to the bridge's group
 * or terminal (Ctrl-C, a hang-up, `kill -9 -PGID`) does not reach it. It is
 * unref()ed: it never keeps the bridge alive. It uses no resources meanwhile
 * beyond one idle Node process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";

/** Runs in the reaper: argv[1] the process group, argv[2] the grace in ms. */
const REAPER_SOURCE = `
const group = Number(process.argv[1]);
const graceMs = Number(process.argv[2]);
const signal = (sig) => {
  try { process.kill(-group, sig); return true; } catch { return false; }
};
let reaping = false;
const reap = () => {
  if (reaping) return;
  reaping = true;
  if (!signal("SIGTERM")) process.exit(0);
  const started = Date.now();
  setInterval(() => {
    if (!signal(0)) process.exit(0);
    if (Date.now() - started >= graceMs) {
      signal("SIGKILL");
      process.exit(0);
    }
  }, 50);
};
process.stdin.on("data", () => {});
process.stdin.on("end", reap);
process.stdin.on("close", reap);
process.stdin.on("error", reap);
`;

/**
 * Start a reaper for the process group `pgid` (a child spawned `detached`, as
 * its group's leader), which it stops with a grace of 3 s. Returns the release:
 * it closes the pipe, so the reaper stops the group now and exits (closing twice
 * does nothing). If the reaper cannot be started, the server simply has no reaper.
 */
export function startReaper(pgid: number): () => void {
  const child: ChildProcess = spawn(process.execPath, ["-e", REAPER_SOURCE, String(pgid), "3000"], {
    stdio: ["pipe", "ignore", "ignore"],
    detached: true,
    // Plain Node: none of the bridge's own loader or inspector options.
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  child.once("error", () => {});
  const pipe = child.stdin as (Socket & NodeJS.WritableStream) | null;
  pipe?.on("error", () => {}); // the reaper already gone: nothing to do
  // Neither the process nor the pipe keeps the bridge alive.
  child.unref();
  pipe?.unref();
  return () => pipe?.destroy();
}
