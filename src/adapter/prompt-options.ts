/**
 * What one `prompt` call and one adapter may be given, and the checks run on
 * them before a turn is queued: the supported server versions, the model
 * string, per-prompt timeouts and request policies. Pure (no I/O); the
 * adapter (src/adapter/adapter.ts) refuses a call these reject with its one
 * terminal `error` reply.
 */
import { MAX_TIMER_MS, type AdapterConfig, type PermissionPolicy, type QuestionPolicy } from "./config.js";
import { BridgeError } from "./errors.js";
import type { PromptBody } from "./dialect.js";
import type { RequestHook } from "./requests.js";
import type { SessionOptions, SessionStore } from "./sessions.js";

export interface PromptOptions {
  readonly traceId?: string;
  /** Resume this OpenCode session; omitted: a new session is created. */
  readonly sessionId?: string;
  /** Aborts the turn: the OpenCode session is aborted and the turn ends with `aborted`. */
  readonly signal?: AbortSignal;
  /** "provider/model", or the pair. */
  readonly model?: string | { providerID: string; modelID: string };
  readonly agent?: string;
  readonly system?: string;
  /** This turn's permission policy (default: the adapter's). */
  readonly permission?: PermissionPolicy;
  /** This turn's question policy (default: the adapter's). */
  readonly question?: QuestionPolicy;
  /** This turn's request hook (default: the adapter's `onRequest`). */
  readonly onRequest?: RequestHook;
  /**
   * Run in the host's keyed session (see src/adapter/sessions.ts): created on first
   * use with `session` options and this prompt's model and agent, reused while they
   * stay the same. Exclusive with `sessionId`.
   */
  readonly sessionKey?: string;
  /** How a keyed session is created (title, permission rules, parent). */
  readonly session?: Omit<SessionOptions, "model" | "agent">;
  /** Store the prompt without running the model; the turn ends `final` with no content once OpenCode has stored it. */
  readonly noReply?: boolean;
  /** Enable/disable tools by name for this prompt (OpenCode writes these into the session's permission rules). */
  readonly tools?: Record<string, boolean>;
  /** The model variant (e.g. a reasoning effort the provider defines). */
  readonly variant?: string;
  /** Timeouts for this turn, overriding the adapter's (`toolMs`: its `toolTimeoutMs`). */
  readonly timeouts?: { readonly firstEventMs?: number; readonly idleMs?: number; readonly turnMs?: number; readonly toolMs?: number };
  /**
   * Called with the turn's own user message id right before the prompt is sent:
   * what identifies the turn in OpenCode's record (the daemon journals it, and
   * recovers the turn by it after a restart). A promise is waited for before the
   * prompt goes out (the shared store commits the id first); a rejection fails the turn unsent.
   */
  readonly onPromptId?: (messageId: string) => void | Promise<void>;
}

export interface AdapterOptions {
  /** Where session keys are kept; default: in memory. */
  readonly sessionStore?: SessionStore;
  /** On `close()`, delete every session this adapter created (keyed or not). Default false. */
  readonly deleteSessionsOnClose?: boolean;
}

/**
 * The OpenCode versions this bridge supports: 1.2.0 and later 1.x (its 1.x dialect),
 * and 2.x (its 2.x dialect, src/adapter/dialect-v2.ts; checked against 2.1.2).
 */
export const SUPPORTED_VERSIONS = { min: [1, 2, 0], belowMajor: 3 } as const;

export function isSupportedVersion(version: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [minMajor, minMinor, minPatch] = SUPPORTED_VERSIONS.min;
  if (major >= SUPPORTED_VERSIONS.belowMajor) return false;
  // Compared as a tuple: the first part that differs decides.
  return major !== minMajor ? major > minMajor : minor !== minMinor ? minor > minMinor : patch >= minPatch;
}

export function parseModel(model: PromptOptions["model"]): PromptBody["model"] {
  if (model === undefined) return undefined;
  if (typeof model !== "string") return model;
  const i = model.indexOf("/");
  if (i <= 0 || i === model.length - 1) {
    throw new BridgeError("config", `model must look like provider/model, got ${JSON.stringify(model)}`);
  }
  return { providerID: model.slice(0, i), modelID: model.slice(i + 1) };
}

/**
 * Check one prompt call before it is queued; throws what `prompt` turns into the
 * call's terminal `error` reply. Resolves the model.
 */
export function checkPrompt(config: AdapterConfig, input: unknown, opts: PromptOptions, closed: boolean): PromptBody["model"] {
  if (typeof input !== "string" && !Array.isArray(input)) {
    throw new BridgeError("config", `prompt text must be a non-empty string or an array of parts, got ${JSON.stringify(input)}`);
  }
  if (typeof input === "string" && input.trim() === "") {
    throw new BridgeError("config", `prompt text must be a non-empty string, got ${JSON.stringify(input)}`);
  }
  if (closed) throw new BridgeError("config", "the adapter is closed");
  if (opts.sessionKey !== undefined && opts.sessionId !== undefined) {
    throw new BridgeError("config", "give either sessionKey or sessionId, not both");
  }
  if (opts.sessionKey !== undefined && (typeof opts.sessionKey !== "string" || opts.sessionKey === "")) {
    throw new BridgeError("config", `sessionKey must be a non-empty string, got ${JSON.stringify(opts.sessionKey)}`);
  }
  const model = parseModel(opts.model);
  const p = opts.permission;
  if (p !== undefined && p !== "reject" && p !== "allow" && p !== "ask" && typeof p !== "function") {
    throw new BridgeError("config", `permission must be "reject", "allow", "ask" or a function, got ${JSON.stringify(p)}`);
  }
  if (opts.question !== undefined && opts.question !== "reject" && opts.question !== "ask") {
    throw new BridgeError("config", `question must be "reject" or "ask", got ${JSON.stringify(opts.question)}`);
  }
  withTimeouts(config, opts.timeouts); // checks them
  return model;
}

/** One turn's configuration: the adapter's, with the prompt's timeouts and request policies. */
export function turnConfig(config: AdapterConfig, opts: PromptOptions): AdapterConfig {
  return {
    ...withTimeouts(config, opts.timeouts),
    permission: opts.permission ?? config.permission,
    question: opts.question ?? config.question,
    onRequest: opts.onRequest ?? config.onRequest,
  };
}

/** The adapter's configuration with one prompt's timeouts in place of its own. */
export function withTimeouts(config: AdapterConfig, t: PromptOptions["timeouts"]): AdapterConfig {
  if (t === undefined) return config;
  for (const [k, v] of Object.entries(t)) {
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v <= 0 || v > MAX_TIMER_MS)) {
      throw new BridgeError("config", `timeouts.${k} must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, got ${JSON.stringify(v)}`);
    }
  }
  return {
    ...config,
    ...(t.firstEventMs !== undefined ? { firstEventTimeoutMs: t.firstEventMs } : {}),
    ...(t.idleMs !== undefined ? { idleTimeoutMs: t.idleMs } : {}),
    ...(t.turnMs !== undefined ? { turnTimeoutMs: t.turnMs } : {}),
    ...(t.toolMs !== undefined ? { toolTimeoutMs: t.toolMs } : {}),
  };
}
