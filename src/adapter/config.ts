/**
 * Adapter configuration, validated with zod at construction. Messages say which
 * field is wrong, what was expected and what was received.
 */
import { randomUUID } from "node:crypto";
import { isAbsolute } from "node:path";
import type { Dispatcher } from "undici";
import type { Logger } from "pino";
import { z } from "zod";
import { realClock, type Clock } from "../util/clock.js";
import { formatOptionIssues, describeValue as describe } from "../util/zod.js";
import { BridgeError } from "./errors.js";
import type { PermissionReply } from "../codec/requests.js";
import type { RequestHook } from "./requests.js";

/** How long a request may wait for a person by default: ten minutes. */
export const DEFAULT_ANSWER_TIMEOUT_MS = 10 * 60_000;

/** What OpenCode asks permission for (`permission.asked`), as the host's callback sees it. */
export interface PermissionRequest {
  readonly id: string;
  readonly sessionID: string;
  readonly permission: string;
  readonly patterns: readonly string[];
  readonly tool?: { readonly messageID: string; readonly callID: string };
  readonly raw: unknown;
}

export type PermissionCallback = (req: PermissionRequest, signal: AbortSignal) => PermissionReply | Promise<PermissionReply>;
/**
 * `reject` and `allow` answer alone; `ask` hands the request to the `onRequest`
 * hook (or whoever calls `adapter.replyPermission`); a function is the older
 * callback form of asking.
 */
export type PermissionPolicy = "reject" | "allow" | "ask" | PermissionCallback;
/** `reject` dismisses every question; `ask` hands it to the `onRequest` hook. */
export type QuestionPolicy = "reject" | "ask";

/** A provider retry reported by OpenCode (`session.status` retry). */
export interface RetryStatus {
  readonly sessionId: string;
  readonly traceId: string;
  readonly attempt: number;
  readonly message: string;
}

/** Reconnecting the event stream after a drop: exponential backoff (no jitter), then give up. */
export interface ReconnectPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly growFactor: number;
  /** Attempts before giving up; each failed connect counts, a successful one resets the count. */
  readonly maxAttempts: number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = { initialDelayMs: 100, maxDelayMs: 5_000, growFactor: 2, maxAttempts: 8 };

/** Node's longest timer (about 24.8 days): a longer one fires at once (TimeoutOverflowWarning), so it is refused. */
export const MAX_TIMER_MS = 2_147_483_647;

const ms = (what: string) =>
  z
    .number({ error: `${what} must be a number of milliseconds` })
    .int(`${what} must be a whole number of milliseconds`)
    .positive(`${what} must be greater than 0`)
    .max(MAX_TIMER_MS, `${what} must be at most ${MAX_TIMER_MS} (about 24.8 days, Node's longest timer)`);

export const AdapterConfigSchema = z.object({
  /** Base URL of `opencode serve`, e.g. http://127.0.0.1:4096 */
  baseUrl: z.url({ error: "baseUrl must be an http(s) URL such as http://127.0.0.1:4096" }).refine(
    (u) => /^https?:\/\//.test(u),
    "baseUrl must start with http:// or https://",
  ),
  /** The project directory every call is scoped to (absolute). */
  directory: z.string().refine((d) => isAbsolute(d), "directory must be an absolute path"),
  username: z.string().min(1).optional(),
  password: z.string().optional(),
  /**
   * The server's OpenCode line (1 or 2) when the caller knows it (a server it started:
   * `ScriptedOpencode.line`, `ManagedServer.line`); unset: found at connect time.
   */
  line: z.union([z.literal(1), z.literal(2)], { error: "line must be 1 or 2" }).optional(),
  /** No event of the session within this long after the prompt: timeout. */
  firstEventTimeoutMs: ms("firstEventTimeoutMs").default(60_000),
  /** No event of the session for this long (paused while a permission or question is pending): timeout. */
  idleTimeoutMs: ms("idleTimeoutMs").default(120_000),
  /**
   * One tool (a bash command, a subagent's task) may run at most this long; unset:
   * no bound but the turn's. While a tool runs the idle rule is paused, so a quiet
   * build or test suite is not taken for a stall.
   */
  toolTimeoutMs: ms("toolTimeoutMs").optional(),
  /**
   * Before a `final`, read the turn's record (`GET /session/:id/message`) once:
   * repair what the stream missed, and end `error` (`transport`) when the record
   * shows the answer never finished (the server lost the turn). false: trust the stream.
   */
  verifyAtEnd: z.boolean({ error: "verifyAtEnd must be true or false" }).default(true),
  /** The whole turn may take at most this long. */
  turnTimeoutMs: ms("turnTimeoutMs").default(30 * 60_000),
  /** After aborting, how long to wait for the session to go idle. */
  settleTimeoutMs: ms("settleTimeoutMs").default(5_000),
  /** Each HTTP request (not the event stream) may take at most this long. */
  requestTimeoutMs: ms("requestTimeoutMs").default(15_000),
  /** Opening the event stream until `server.connected` may take at most this long. */
  connectTimeoutMs: ms("connectTimeoutMs").default(10_000),
  /**
   * A permission or question nobody answered within this long is rejected with a
   * message saying so (the turn's idle and turn deadlines are paused meanwhile).
   */
  answerTimeoutMs: ms("answerTimeoutMs").optional(),
  /** The older name of `answerTimeoutMs` (used when that is not given). */
  permissionTimeoutMs: ms("permissionTimeoutMs").optional(),
  /** Provider retries allowed before the turn is aborted with `upstream`. */
  maxProviderRetries: z.number().int().nonnegative().default(3),
  /**
   * No byte on the event stream for this long while a turn listens: the socket is
   * taken for dead and reconnected. OpenCode sends `server.heartbeat` every 10 s.
   */
  watchdogMs: ms("watchdogMs").default(30_000),
  /** Reconnecting the event stream after a drop. */
  reconnect: z
    .object({
      initialDelayMs: ms("reconnect.initialDelayMs").default(DEFAULT_RECONNECT.initialDelayMs),
      maxDelayMs: ms("reconnect.maxDelayMs").default(DEFAULT_RECONNECT.maxDelayMs),
      growFactor: z.number().min(1).default(DEFAULT_RECONNECT.growFactor),
      maxAttempts: z.number().int().nonnegative().default(DEFAULT_RECONNECT.maxAttempts),
    })
    .prefault({}),
  /**
   * Event frames larger than this are dropped unread (bounded memory). A dropped frame
   * of a running turn — typically the full text of a very long answer — is recovered
   * from the server's record.
   */
  maxFrameBytes: z.number().int().min(1024).default(1024 * 1024),
  /** A sink call that has not settled after this long is counted as failed and delivery moves on. */
  sinkTimeoutMs: ms("sinkTimeoutMs").default(30_000),
  /**
   * Replies waiting for a slow sink, per turn, before consecutive text of one part
   * is coalesced into one reply (nothing is dropped; deltas just get larger).
   */
  maxQueuedReplies: z.number().int().min(2).default(1_000),
});

/** What the config holds beside the schema's fields: functions and objects zod does not check (all optional as input). */
interface ConfigHooks {
  permission: PermissionPolicy;
  question: QuestionPolicy;
  /** Who answers under the `ask` policies (src/adapter/requests.ts). */
  onRequest: RequestHook | undefined;
  logger: Logger | undefined;
  dispatcher: Dispatcher | undefined;
  clock: Clock;
  onRetry: ((status: RetryStatus) => void) | undefined;
  /** Trace ids for turns that do not bring one. */
  newTraceId: () => string;
}

export type AdapterConfigInput = z.input<typeof AdapterConfigSchema> & Partial<ConfigHooks>;

export type AdapterConfig = Omit<z.output<typeof AdapterConfigSchema>, "answerTimeoutMs" | "permissionTimeoutMs"> & { answerTimeoutMs: number } & ConfigHooks;

/** Validate; throws BridgeError("config") naming every wrong field. */
export function parseAdapterConfig(input: AdapterConfigInput, env: NodeJS.ProcessEnv = process.env): AdapterConfig {
  if (typeof input !== "object" || input === null) {
    throw new BridgeError("config", `adapter config must be an object, got ${input === null ? "null" : typeof input}`);
  }
  const parsed = AdapterConfigSchema.safeParse({
    ...input,
    password: input.password ?? env.OPENCODE_SERVER_PASSWORD,
    username: input.username ?? env.OPENCODE_SERVER_USERNAME,
  });
  if (!parsed.success) {
    const problems = formatOptionIssues(parsed.error, input, { root: "(config)", hidden: { password: "a value, not shown" } });
    throw new BridgeError("config", `invalid adapter config: ${problems}`);
  }
  const permission = input.permission ?? "reject";
  if (permission !== "reject" && permission !== "allow" && permission !== "ask" && typeof permission !== "function") {
    throw new BridgeError(
      "config",
      `invalid adapter config: permission must be "reject", "allow", "ask" or a function (got ${describe(permission)})`,
    );
  }
  const question = input.question ?? "reject";
  if (question !== "reject" && question !== "ask") {
    throw new BridgeError("config", `invalid adapter config: question must be "reject" or "ask" (got ${describe(question)})`);
  }
  if (input.onRequest !== undefined && typeof input.onRequest !== "function") {
    throw new BridgeError("config", `invalid adapter config: onRequest must be a function (got ${describe(input.onRequest)})`);
  }
  const { answerTimeoutMs, permissionTimeoutMs, ...rest } = parsed.data;
  return {
    ...rest,
    answerTimeoutMs: answerTimeoutMs ?? permissionTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS,
    question,
    onRequest: input.onRequest,
    baseUrl: parsed.data.baseUrl.replace(/\/+$/, ""),
    permission,
    logger: input.logger,
    dispatcher: input.dispatcher,
    clock: input.clock ?? realClock,
    onRetry: input.onRetry,
    newTraceId: input.newTraceId ?? (() => randomUUID()),
  };
}
