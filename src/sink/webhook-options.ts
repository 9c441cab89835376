/**
 * The webhook sink's options (src/sink/webhook.ts): the schema, its defaults,
 * and the one validation that names every wrong field.
 */
import type { Dispatcher } from "undici";
import type { Logger } from "pino";
import { z } from "zod";
import { formatOptionIssues, wholeNumber } from "../util/zod.js";
import type { Clock } from "../util/clock.js";
import { SinkError } from "./errors.js";
import type { SinkMessage, SinkStats } from "./types.js";
import type { Reply } from "../codec/reply.js";

const ms = (what: string) =>
  z
    .number({ error: `${what} must be a number of milliseconds` })
    .int(`${what} must be a whole number of milliseconds`)
    .nonnegative(`${what} must be 0 or more`);

export const WebhookOptionsSchema = z.object({
  /** Where replies are POSTed. */
  url: z
    .string({ error: "url must be a string such as http://127.0.0.1:8080/replies" })
    .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), "url must be an http:// or https:// URL"),
  /** Extra request headers, e.g. the receiver's own Authorization. Never logged. */
  headers: z.record(z.string(), z.string()).default({}),
  /** Attempts per reply, the first included. */
  maxAttempts: wholeNumber("maxAttempts", 1).default(8),
  /** No attempt of a reply starts later than this after its first attempt. */
  maxElapsedMs: ms("maxElapsedMs").default(60_000),
  /** The delay before the first retry; it doubles (`backoffFactor`) after each. */
  initialDelayMs: ms("initialDelayMs").default(250),
  backoffFactor: z.number({ error: "backoffFactor must be a number" }).min(1, "backoffFactor must be at least 1").default(2),
  /** The cap on any delay, a `Retry-After` included. */
  maxDelayMs: ms("maxDelayMs").default(10_000),
  /** Each attempt (connect, send, response headers and body) may take at most this long. */
  requestTimeoutMs: ms("requestTimeoutMs").positive("requestTimeoutMs must be greater than 0").default(10_000),
  /** Replies held per turn (src/sink/webhook.ts, "Memory"). */
  maxQueuedPerTurn: wholeNumber("maxQueuedPerTurn", 1).default(1_000),
  /** How long `close()` waits for queued replies before cancelling them. */
  closeTimeoutMs: ms("closeTimeoutMs").default(10_000),
  /**
   * Batch mode (off unless given; `{}` takes the defaults): while a POST of a turn
   * is in flight, what else of the turn arrives waits, and goes as one ordered JSON
   * array in the next POST — at most `maxReplies` messages and `maxBytes` of body
   * (a single larger message goes alone). docs/daemon.md has the receiver's contract.
   */
  batch: z
    .object({
      maxReplies: wholeNumber("batch.maxReplies", 1).default(1_000),
      maxBytes: wholeNumber("batch.maxBytes", 1).default(1_048_576),
    })
    .strict()
    .optional(),
});

export type WebhookOptionsInput = z.input<typeof WebhookOptionsSchema> & {
  dispatcher?: Dispatcher;
  logger?: Logger;
  /** The time source of backoff sleeps; tests inject one that does not wait. */
  clock?: Clock;
  /** The turn's id for all time, for `Idempotency-Key` (default: a UUID drawn at the turn's first reply). */
  turnIdOf?: (message: SinkMessage) => string | undefined;
  /** Called when the receiver acknowledged a reply (the daemon journals the position). */
  onDelivered?: (reply: Reply) => void;
  /** Jitter source in [0, 1): each computed delay is scaled into [delay/2, delay]. Default Math.random. */
  random?: () => number;
};
export type WebhookOptions = z.output<typeof WebhookOptionsSchema>;

/** Counters for metrics. */
export interface WebhookCounters extends SinkStats {
  /** Replies acknowledged with a 2xx. */
  delivered: number;
  /** Attempts after a reply's first. */
  retries: number;
  /** Replies never acknowledged: given up, dropped after a give-up in their turn, or cancelled by close(). */
  failures: number;
  /** Turns whose delivery was abandoned (one per give-up). */
  givenUp: number;
}

/** Validate; throws SinkError("config") naming every wrong field, what was expected and what was received. */
export function parseWebhookOptions(input: WebhookOptionsInput): WebhookOptions {
  if (typeof input !== "object" || input === null) {
    throw new SinkError("config", `webhook options must be an object, got ${input === null ? "null" : typeof input}`);
  }
  // The schema reads its own keys only: the functions and objects beside them are not parsed.
  const parsed = WebhookOptionsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = formatOptionIssues(parsed.error, input, { root: "(options)", hidden: { headers: "values not shown" } });
  throw new SinkError("config", `invalid webhook options: ${problems}`);
}

