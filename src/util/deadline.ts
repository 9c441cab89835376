/**
 * A timeout that a garbage collection cannot erase.
 *
 * On Node 20, `AbortSignal.any([s, AbortSignal.timeout(ms)])` holds its sources
 * weakly: once nothing else references the timeout signal, a GC can collect it
 * and the combined signal never aborts — a request to a peer that never answers
 * then waits forever. Here the timer is an ordinary `setTimeout` whose callback
 * holds the controller, so the event loop keeps both alive until the timer
 * fires or `clear()` is called. Call `clear()` once the guarded work settles.
 */

export interface Deadline {
  /** Aborts with a `TimeoutError` DOMException after `ms`, or with the parent's reason when it aborts. */
  readonly signal: AbortSignal;
  /** Stops the timer and lets go of the parent; call it when the guarded work has settled. */
  clear(): void;
}

export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const ac = new AbortController();
  const onParent = () => ac.abort(parent?.reason);
  const timer = setTimeout(() => {
    parent?.removeEventListener("abort", onParent);
    ac.abort(new DOMException(`no answer within ${ms} ms`, "TimeoutError"));
  }, ms);
  if (parent?.aborted) onParent();
  else parent?.addEventListener("abort", onParent, { once: true });
  return {
    signal: ac.signal,
    clear: () => {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParent);
    },
  };
}
