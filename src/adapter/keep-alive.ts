/**
 * An open turn keeps its process alive; no open turn keeps nothing.
 *
 * Every timer the adapter arms is unref()ed (a timer alone must not pin a host
 * that has nothing to do), and while the event stream reconnects there is no
 * socket either. Without a handle of its own, a one-shot host — a script doing
 * `await adapter.prompt(...)` at top level, or `opencode-bridge prompt` — has an
 * empty event loop in the middle of a turn and Node exits with status 13
 * ("unsettled top-level await"), no terminal reply printed.
 *
 * So the adapter takes one hold per turn, from `prompt()` until the turn has
 * settled (its terminal reply delivered), whatever it waits for meanwhile:
 * reconnect backoff, repair, settle, a slow sink. Holds are counted across every
 * adapter of the process and share one ref'd timer, which exists exactly while
 * the count is above zero.
 */

/** Longest delay Node accepts for a timer; the callback never matters. */
const FOREVER_MS = 2 ** 31 - 1;

let holds = 0;
let handle: NodeJS.Timeout | undefined;

/** Keep the process alive until the returned function is called (calling it again does nothing). */
export function holdProcess(): () => void {
  if (holds++ === 0) handle = setInterval(() => {}, FOREVER_MS);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holds === 0) {
      clearInterval(handle);
      handle = undefined;
    }
  };
}

/** How many holds are open (turns in flight across the process). */
export function openHolds(): number {
  return holds;
}
