/**
 * The one time source of the bridge. Everything that waits — turn timers, the
 * event stream's reconnect, webhook retries — takes a `Clock`, so tests inject a
 * manual one and never sleep.
 */
export interface Clock {
  now(): number;
  /** Schedule `fn` after `ms`; the handle goes back to `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Resolves after `ms`, or early (still resolving) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Wall-clock time. `setTimeout` timers are unref()ed: a timer alone does not keep
 * a process alive (whoever needs the process kept alive holds its own handle).
 * `sleep` is a plain timer: whoever awaits it keeps the process alive meanwhile.
 */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const t = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    }),
};
