/**
 * The one backoff policy of the bridge, shared by the event stream's reconnect
 * and the webhook sink's retries: exponential growth from `initialDelayMs` by
 * `factor`, capped at `maxDelayMs`, optionally with "equal jitter" (a delay in
 * [d/2, d]) so that many clients retrying together spread out.
 */
export interface BackoffPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Growth per attempt (≥ 1). */
  readonly factor: number;
  /** "equal": a delay in [d/2, d]; "none": exactly d. */
  readonly jitter: "none" | "equal";
}

/** The delay before retry number `attempt` (1 for the first retry). `random` returns [0, 1). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const d = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.max(0, attempt - 1));
  if (policy.jitter === "none") return d;
  return Math.round(d / 2 + (d / 2) * random());
}
