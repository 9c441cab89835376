/**
 * One webhook attempt: a single HTTP `POST` of one body, through undici's
 * `dispatch`; and `sendWithRetries`, the attempts of one body under the retry
 * rules (src/sink/webhook.ts decides what to send and what a give-up drops).
 *
 * Why `dispatch` and not `request()`: an attempt needs the status, `Retry-After`
 * and nothing else, yet `request()` builds per call an `AsyncResource`, a
 * `Readable` for the body (which the sink then drains), and an abort listener;
 * the daemon's webhook sends one `POST` per reply, so that was its largest cost
 * per reply after the socket write itself (docs/performance.md, the daemon).
 *
 * The deadline is a plain timer, held by the event loop until the attempt
 * settles, so no garbage collection can erase it (util/deadline.ts says why that
 * matters). When it fires the attempt is over at once — even when undici has not
 * connected yet — and the request is aborted as soon as undici lets it be.
 *
 * Cancellation: the attempts in flight and the sink's backoff sleeps register in
 * one `Cancellation`; `cancel()` stops each. No attempt adds a listener to a shared
 * `AbortSignal`, so concurrency (one attempt per turn) adds no listeners anywhere.
 */
import { getGlobalDispatcher, type Dispatcher } from "undici";
import { backoffDelay, type BackoffPolicy } from "../util/backoff.js";
import type { Clock } from "../util/clock.js";

/** The outcome of one attempt. */
export type Attempt =
  | { readonly kind: "ok" }
  | { readonly kind: "retry"; readonly why: string; readonly retryAfterMs?: number }
  | { readonly kind: "reject"; readonly why: string }
  | { readonly kind: "cancelled" };

/** A response body is read (and discarded) up to this size so the connection can be reused; past it the connection is dropped. */
const MAX_RESPONSE_BODY = 64 * 1024;

/**
 * `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date
 * (RFC 9110 §10.2.3). Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (v === undefined || v === "") return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** What `cancel()` stops: every registered stop function, once. */
export class Cancellation {
  private readonly stops = new Set<() => void>();
  cancelled = false;

  /** Registers `stop` until the returned function is called; called at once when already cancelled. */
  register(stop: () => void): () => void {
    if (this.cancelled) {
      stop();
      return () => {};
    }
    this.stops.add(stop);
    return () => this.stops.delete(stop);
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const stops = [...this.stops];
    this.stops.clear();
    for (const stop of stops) stop();
  }
}

export interface PostTarget {
  readonly origin: string;
  /** Path and query. */
  readonly path: string;
  /** Header names and values, flat (`[name, value, …]`), the content type included. */
  readonly headers: readonly string[];
  readonly timeoutMs: number;
  readonly dispatcher: Dispatcher | undefined;
}

export function postTarget(url: string, headers: Readonly<Record<string, string>>, timeoutMs: number, dispatcher: Dispatcher | undefined): PostTarget {
  const u = new URL(url);
  const flat = Object.entries({ ...headers, "content-type": "application/json" }).flat();
  return { origin: u.origin, path: `${u.pathname}${u.search}`, headers: flat, timeoutMs, dispatcher };
}

/** One `POST` of `body` with `Idempotency-Key: key`; never rejects. */
export function postOnce(target: PostTarget, body: string, key: string, cancellation: Cancellation, now: () => number): Promise<Attempt> {
  if (cancellation.cancelled) return Promise.resolve({ kind: "cancelled" });
  return new Promise<Attempt>((resolve) => {
    let settled = false;
    let abort: ((err?: Error) => void) | undefined;
    let abortWhenConnected: Error | undefined;
    let status = 0;
    let rawHeaders: Buffer[] | undefined;
    let bodyBytes = 0;
    const stop = (err: Error) => {
      if (abort) abort(err);
      else abortWhenConnected = err;
    };
    const finish = (a: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unregister();
      resolve(a);
    };
    const timer = setTimeout(() => {
      finish({ kind: "retry", why: `no answer within ${target.timeoutMs} ms` });
      stop(new DOMException(`no answer within ${target.timeoutMs} ms`, "TimeoutError"));
    }, target.timeoutMs);
    const unregister = cancellation.register(() => {
      finish({ kind: "cancelled" });
      stop(new DOMException("cancelled by close()", "AbortError"));
    });
    const handler: Dispatcher.DispatchHandler = {
      onConnect: (a) => {
        abort = a;
        if (abortWhenConnected) a(abortWhenConnected);
      },
      onHeaders: (statusCode, headers) => {
        // 1xx informational responses come before the real one.
        if (statusCode >= 200) {
          status = statusCode;
          rawHeaders = headers;
        }
        return true;
      },
      onData: (chunk) => {
        bodyBytes += chunk.length;
        if (bodyBytes > MAX_RESPONSE_BODY && !settled) {
          finish(classify(status, rawHeaders, now));
          stop(new Error("webhook response body over 64 KiB: connection dropped"));
        }
        return true;
      },
      onComplete: () => finish(classify(status, rawHeaders, now)),
      onError: (err) => {
        if (cancellation.cancelled) return finish({ kind: "cancelled" });
        const e = err as { code?: string; name?: string; message?: string };
        finish({ kind: "retry", why: `${e.code ?? e.name ?? "error"}${e.message ? ` (${e.message})` : ""}` });
      },
    };
    try {
      (target.dispatcher ?? getGlobalDispatcher()).dispatch(
        { origin: target.origin, path: target.path, method: "POST", headers: [...target.headers, "idempotency-key", key], body },
        handler,
      );
    } catch (err) {
      handler.onError?.(err as Error);
    }
  });
}

function classify(status: number, rawHeaders: Buffer[] | undefined, now: () => number): Attempt {
  if (status >= 200 && status < 300) return { kind: "ok" };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(headerOf(rawHeaders, "retry-after"), now());
    return { kind: "retry", why: `HTTP ${status}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }
  return { kind: "reject", why: `HTTP ${status}: the receiver rejected the reply (not retried)` };
}

function headerOf(raw: Buffer[] | undefined, name: string): string | undefined {
  if (!raw) return undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) if (String(raw[i]).toLowerCase() === name) return String(raw[i + 1]);
  return undefined;
}

/** How one delivery (of one body, retried) ended. */
export type Outcome = { ok: true } | { ok: false; cancelled: boolean; why: string; attempts: number; elapsedMs: number };

export interface RetryRules {
  readonly options: { readonly maxAttempts: number; readonly maxElapsedMs: number; readonly maxDelayMs: number };
  readonly policy: BackoffPolicy;
  readonly random: () => number;
  readonly clock: Clock;
  readonly cancellation: Cancellation;
  /** A retry is about to wait `delay` ms (for counters and logs). */
  readonly retrying: (attempt: number, delay: number, why: string) => void;
}

/**
 * One body delivered: attempts until a 2xx, a rejection, `maxAttempts`, or the
 * next attempt would start past `maxElapsedMs`; each retry waits the backoff (or
 * the receiver's `Retry-After`), capped at `maxDelayMs`. Never rejects.
 */
export async function sendWithRetries(target: PostTarget, body: string, key: string, rules: RetryRules): Promise<Outcome> {
  const { options: o, clock, cancellation } = rules;
  const started = clock.now();
  for (let attempt = 1; ; attempt++) {
    const r = await postOnce(target, body, key, cancellation, () => clock.now());
    const elapsedMs = clock.now() - started;
    const failed = (why: string, cancelled = false, elapsed = elapsedMs): Outcome => ({ ok: false, cancelled, why, attempts: attempt, elapsedMs: elapsed });
    switch (r.kind) {
      case "ok":
        return { ok: true };
      case "cancelled":
        return failed("cancelled by close()", true);
      case "reject":
        return failed(r.why);
      case "retry": {
        if (attempt >= o.maxAttempts) return failed(`${r.why}; ${attempt} attempts is the limit`);
        const delay = Math.min(o.maxDelayMs, r.retryAfterMs ?? backoffDelay(rules.policy, attempt, rules.random));
        if (elapsedMs + delay > o.maxElapsedMs) return failed(`${r.why}; retrying in ${delay} ms would pass the ${o.maxElapsedMs} ms limit`);
        rules.retrying(attempt, delay, r.why);
        await sleep(clock, cancellation, delay);
        if (cancellation.cancelled) return failed("cancelled by close()", true, clock.now() - started);
        break;
      }
      default: {
        const never: never = r;
        return never;
      }
    }
  }
}

/** A backoff delay; `cancel()` ends it early. */
async function sleep(clock: Clock, cancellation: Cancellation, ms: number): Promise<void> {
  const ac = new AbortController();
  const unregister = cancellation.register(() => ac.abort());
  try {
    await clock.sleep(ms, ac.signal);
  } finally {
    unregister();
  }
}
