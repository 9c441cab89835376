/**
 * The daemon's options and the body of `POST /v1/turns`, validated with zod.
 * Option errors are DaemonError("config") (./errors.ts) and say what was expected
 * and what was received (a token's value is never shown).
 */
import { createHash } from "node:crypto";
import { isAbsolute } from "node:path";
import type { Logger } from "pino";
import { z } from "zod";
import { formatOptionIssues, wholeNumber } from "../util/zod.js";
import { MAX_TIMER_MS, parseAdapterConfig, type AdapterConfigInput } from "../adapter/config.js";
import { BridgeError } from "../adapter/errors.js";
import { imageMismatch } from "../adapter/parts.js";
import type { NamedSink } from "../sink/fanout.js";
import { isLoopbackHost } from "./auth.js";
import { DaemonError } from "./errors.js";
import type { Upstream } from "./upstream.js";

export const DaemonOptionsSchema = z
  .object({
    host: z.string().min(1, "host must not be empty").default("127.0.0.1"),
    /** 0 picks a free port. */
    port: wholeNumber("port", 0).max(65_535, "port must be at most 65535").default(4_141),
    /** Required on every route but /healthz; required unless `noToken` (loopback only). */
    token: z.string().min(16, "token must be at least 16 characters").optional(),
    /** Run without a token (loopback only): every local process can then use the daemon. */
    noToken: z.boolean().default(false),
    /** Browser origins (scheme://host[:port]) allowed to call the daemon; a request with any other Origin is refused. */
    allowOrigins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, "an allowed origin looks like https://app.example or http://localhost:3000")).default([]),
    /** Host names accepted in the Host header besides IP addresses and localhost (refusing others stops DNS rebinding). */
    allowHosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, "an allowed host is a host name such as bridge.internal")).default([]),
    /** The project directory turns run in unless they name another (absolute). */
    directory: z.string().refine(isAbsolute, "directory must be an absolute path"),
    /**
     * Directories besides `directory` whose trees turns may run in (absolute). A turn's
     * directory outside them all is refused, and `/` or a system directory only runs
     * when listed here itself.
     */
    allowDirectories: z.array(z.string().refine(isAbsolute, "an allowed directory must be an absolute path")).default([]),
    /** Finished turns kept for event subscribers. */
    maxTurns: wholeNumber("maxTurns", 1).default(100),
    /** Reply JSON kept per turn for late subscribers. */
    maxReplyBytesPerTurn: wholeNumber("maxReplyBytesPerTurn", 1_024).default(2 * 1024 * 1024),
    /** Turns accepted and not yet ended, across sessions; beyond it POST /v1/turns answers 429. */
    maxActiveTurns: wholeNumber("maxActiveTurns", 1).default(32),
    /** Idle session adapters kept. */
    maxIdleSessions: wholeNumber("maxIdleSessions", 0).default(64),
    /** On SIGTERM, running turns get this long to finish before they are aborted. */
    shutdownGraceMs: wholeNumber("shutdownGraceMs", 0).default(10_000),
    maxBodyBytes: wholeNumber("maxBodyBytes", 1_024).default(1024 * 1024),
    heartbeatMs: wholeNumber("heartbeatMs", 10).default(15_000),
    /** Bytes waiting for one event subscriber that does not read, before it is cut off. */
    maxSubscriberBufferBytes: wholeNumber("maxSubscriberBufferBytes", 1_024).default(4 * 1024 * 1024),
    /** Bytes waiting for all event subscribers together; the subscriber that would pass it is cut off. */
    maxSubscriberBytesTotal: wholeNumber("maxSubscriberBytesTotal", 1_024).default(64 * 1024 * 1024),
    /** A subscriber with bytes waiting that takes none for this long is cut off. */
    subscriberDrainTimeoutMs: wholeNumber("subscriberDrainTimeoutMs", 1).default(30_000),
    /** Event subscribers per turn, and in total; beyond them the events route answers 429. */
    maxSubscribersPerTurn: wholeNumber("maxSubscribersPerTurn", 1).default(32),
    maxSubscribers: wholeNumber("maxSubscribers", 1).default(512),
    /** Open connections to the daemon; beyond it new ones are closed at once. */
    maxConnections: wholeNumber("maxConnections", 1).default(1_024),
    /** After the shutdown grace, everything left (aborted turns, outputs, listener, OpenCode) gets this long. */
    closeTimeoutMs: wholeNumber("closeTimeoutMs", 0).default(10_000),
    /** Where the journal (and a generated token) live; without it nothing survives the process. Absolute. */
    stateDir: z.string().refine(isAbsolute, "stateDir must be an absolute path").optional(),
    /** The journal is compacted when it grows past this. */
    journalMaxBytes: wholeNumber("journalMaxBytes", 1_024).default(64 * 1024 * 1024),
    /** A PostgreSQL URL: turns, replies, acknowledgements and keyed sessions live there, shared with other daemons (src/daemon/store/), instead of the journal. */
    store: z.string().regex(/^postgres(ql)?:\/\//, "store must be a postgres:// or postgresql:// URL").optional(),
    /** With a store: how long a daemon's claim on a turn lasts unless renewed; a turn whose owner died is taken over after at most this. */
    leaseMs: wholeNumber("leaseMs", 300).max(15_000, "leaseMs must be at most 15000").default(10_000),
    /** How long /healthz and /metrics wait for OpenCode's health check. */
    healthTimeoutMs: wholeNumber("healthTimeoutMs", 1).default(2_000),
  })
  .refine((o) => o.token !== undefined || isLoopbackHost(o.host), {
    path: ["token"],
    message: "a token is required to listen beyond loopback (set --token or BRIDGE_TOKEN, or bind to 127.0.0.1)",
  })
  .refine((o) => o.token !== undefined || o.noToken || !isLoopbackHost(o.host), {
    path: ["token"],
    message: "a token is required (give one, or set noToken: true to run without authentication on loopback)",
  });

export type DaemonOptionsInput = z.input<typeof DaemonOptionsSchema> & {
  upstream: Upstream;
  /** Where every reply goes besides event subscribers (webhook, JSON Lines …). */
  outputs?: readonly NamedSink[];
  logger?: Logger;
  /**
   * Adapter settings (timeouts such as `toolTimeoutMs`, `verifyAtEnd`, the permission
   * policy …) for every session; checked when the daemon is built, not at its first turn.
   */
  adapter?: Partial<Omit<AdapterConfigInput, "baseUrl" | "directory" | "username" | "password" | "logger">>;
};

export type DaemonOptions = z.output<typeof DaemonOptionsSchema>;

export function parseDaemonOptions(input: DaemonOptionsInput): DaemonOptions {
  // The schema reads its own keys only: the upstream, outputs, logger and adapter settings beside them are not parsed.
  const parsed = DaemonOptionsSchema.safeParse(input);
  if (parsed.success) {
    checkAdapterSettings(input.adapter, parsed.data.directory);
    return parsed.data;
  }
  const problems = formatOptionIssues(parsed.error, input, { root: "(options)", hidden: { token: "a value, not shown", store: "a URL, not shown" } });
  throw new DaemonError("config", problems);
}

/**
 * The adapter settings every session's adapter is built with, validated now by the
 * adapter's own schema (the target's URL and credentials are the upstream's, so a
 * stand-in URL takes their place), so a bad value refuses to start the daemon.
 */
function checkAdapterSettings(adapter: DaemonOptionsInput["adapter"], directory: string): void {
  if (adapter === undefined) return;
  try {
    parseAdapterConfig({ ...adapter, baseUrl: "http://127.0.0.1", directory }, {});
  } catch (err) {
    if (!(err instanceof BridgeError) || err.code !== "config") throw err;
    throw new DaemonError("config", `adapter: ${err.message.replace(/^invalid adapter config: /, "")}`);
  }
}

const Id = (what: string) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(200, `${what} must be at most 200 characters`)
    .regex(/^[A-Za-z0-9._:-]+$/, `${what} may hold only letters, digits and . _ : -`)
    // "." and ".." would name a directory when put into a path (GET /session/.. is GET /).
    .refine((v) => !/^\.+$/.test(v), `${what} must not be made only of dots`);

/** A turn's timeout: a longer one than Node's longest timer would fire at once. */
const timeoutMs = z.number().int().positive().max(MAX_TIMER_MS, `a timeout must be at most ${MAX_TIMER_MS} ms (about 24.8 days)`);

/** The body of `POST /v1/turns`. Unknown keys are refused, so a misspelt field is not silently ignored. */
export const TurnRequestSchema = z.strictObject({
  text: z.string().refine((t) => t.trim() !== "", "text must not be empty"),
  session_id: Id("session_id").optional(),
  /** The host's name for a conversation: one OpenCode session per key (src/adapter/sessions.ts). */
  session_key: Id("session_key").optional(),
  /** Title of a keyed session when it is created (default `bridge: <key>`). */
  title: z.string().min(1).max(500).optional(),
  trace_id: Id("trace_id").optional(),
  directory: z.string().refine(isAbsolute, "directory must be an absolute path").optional(),
  model: z.string().regex(/^[^/\s]+\/\S+$/, "model must look like provider/model").optional(),
  agent: z.string().min(1, "agent must not be empty").optional(),
  system: z.string().optional(),
  /** This turn's permission policy; `ask` waits for an answer over HTTP (POST …/requests/:request_id). */
  permission: z.enum(["reject", "allow", "ask"], { error: 'permission must be "reject", "allow" or "ask"' }).optional(),
  /** This turn's question policy. */
  question: z.enum(["reject", "ask"], { error: 'question must be "reject" or "ask"' }).optional(),
  /** More parts after `text`: text, and files as base64 bytes with their MIME type (bounded by the body limit). */
  parts: z
    .array(
      z.discriminatedUnion("type", [
        z.strictObject({ type: z.literal("text"), text: z.string().min(1, "a text part must not be empty") }),
        z.strictObject({
          type: z.literal("file"),
          data: z.base64({ error: "a file part's data must be base64" }),
          mime: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, "mime must look like type/subtype"),
          filename: z.string().min(1).max(255).optional(),
        }).superRefine((f, ctx) => {
          const mismatch = imageMismatch(f.mime, Buffer.from(f.data, "base64"));
          if (mismatch !== undefined) ctx.addIssue({ code: "custom", path: ["data"], message: mismatch });
        }),
      ]),
    )
    .max(64, "at most 64 parts")
    .optional(),
  /** Store the prompt without running the model. */
  no_reply: z.boolean().optional(),
  /** Enable/disable tools by name for this prompt. */
  tools: z.record(z.string(), z.boolean()).optional(),
  variant: z.string().min(1).optional(),
  /** This turn's timeouts (ms), overriding the daemon's. */
  timeouts: z
    .strictObject({
      first_event_ms: timeoutMs.optional(),
      idle_ms: timeoutMs.optional(),
      turn_ms: timeoutMs.optional(),
      /** One tool (a bash command, a subagent's task) may run at most this long in this turn. */
      tool_ms: timeoutMs.optional(),
    })
    .optional(),
}).refine((r) => !(r.session_id !== undefined && r.session_key !== undefined), "give either session_id or session_key, not both");

/** The body of `POST /v1/turns/:trace_id/requests/:request_id`. */
export const AnswerSchema = z.union([
  z.strictObject({ reply: z.enum(["once", "always", "reject"], { error: 'reply must be "once", "always" or "reject"' }), message: z.string().max(4000).optional() }),
  z.strictObject({ answers: z.array(z.array(z.string().max(4000)).max(100)).min(1).max(20) }),
], { error: 'send {"reply": "once" | "always" | "reject", "message"?: string} or {"answers": [["label", …], …]}' });

export type TurnRequest = z.output<typeof TurnRequestSchema>;

/**
 * A turn request's identity for idempotent retries: the SHA-256 of its parsed
 * fields as canonical JSON (keys sorted), so the same request with its keys in
 * another order or with other whitespace is the same request.
 */
export function requestHash(req: TurnRequest): string {
  // JSON.stringify calls the replacer on every value, the sorted copies' own included, and leaves out undefined fields.
  const sorted = (_key: string, v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v;
  return createHash("sha256").update(JSON.stringify(req, sorted)).digest("hex");
}
