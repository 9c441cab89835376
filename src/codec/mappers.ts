/** Small mappers from OpenCode's records to reply fields: errors, usage, default messages. */
import type { ErrorCode, Usage } from "./reply.js";
import type { ServerError } from "./schemas.js";
import type { TurnState } from "./state.js";

/**
 * Errors a model provider reports through OpenCode (`MessageV2` error names of
 * 1.2–1.18): the turn ends `upstream`. Every other name is OpenCode's own failure.
 */
const PROVIDER_ERRORS: ReadonlySet<string> = new Set([
  "APIError",
  "ProviderAuthError",
  "MessageOutputLengthError",
  "ContextOverflowError",
  "StructuredOutputError",
]);

/**
 * OpenCode's words without its internals: stack frames (`    at f (/$bunfs/…:1:2)`)
 * are dropped and the remaining lines joined, so `[cause]: …` lines stay.
 */
export function withoutStack(text: string): string {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^at\s/.test(l) && l !== "}" && l !== "{")
    .join(" ");
}

/** OpenCode's own `UnknownError` for a project directory that does not exist (1.18: `FileSystem.realPath`, ENOENT). */
const MISSING_PATH = /\bNotFound\b.*FileSystem\.|ENOENT/;

/** The server's error in its own words, with a stable code. */
export function describeServerError(err: ServerError): { message: string; code: ErrorCode } {
  const name = err.name ?? "UnknownError";
  const raw = err.data?.message;
  const words = withoutStack(typeof raw === "string" ? raw : raw === undefined ? "" : JSON.stringify(raw));
  const status = err.data?.statusCode !== undefined ? ` (HTTP ${err.data.statusCode})` : "";
  const provider = err.data?.providerID !== undefined ? ` [provider ${err.data.providerID}]` : "";
  const message = `${name}${status}${provider}: ${words || "no message"}`;
  const code: ErrorCode =
    name === "MessageAbortedError"
      ? "aborted"
      : PROVIDER_ERRORS.has(name) || err.data?.providerID !== undefined || err.data?.statusCode !== undefined
        ? "upstream"
        : MISSING_PATH.test(words)
          ? "not_found"
          : "server";
  return { message, code };
}

/** Tokens and cost summed over the assistant messages answering the turn's prompt; undefined when none reported tokens. */
export function sumUsage(state: TurnState): { usage: Usage; cost: number } | undefined {
  let seen = false;
  const usage: Usage = { input: 0, output: 0, reasoning: 0, cache_read: 0, cache_write: 0 };
  let cost = 0;
  for (const m of state.messages.values()) {
    if (m.role !== "assistant" || (m.parentID !== undefined && m.parentID !== state.userMessageId)) continue;
    if (m.tokens) {
      seen = true;
      usage.input += m.tokens.input;
      usage.output += m.tokens.output;
      usage.reasoning += m.tokens.reasoning;
      usage.cache_read += m.tokens.cacheRead;
      usage.cache_write += m.tokens.cacheWrite;
    }
    if (m.cost !== undefined) cost += m.cost;
  }
  return seen ? { usage, cost } : undefined;
}

/** What a turn ended by the caller says when the caller gives no message. */
export const FINISH_MESSAGES: Readonly<Record<ErrorCode, string>> = {
  transport: "the event stream ended before the turn finished",
  timeout: "the turn timed out",
  aborted: "the turn was aborted",
  protocol: "OpenCode sent something the bridge could not read",
  permission: "a permission request could not be answered",
  auth: "OpenCode refused the credentials",
  upstream: "the model provider failed",
  server: "OpenCode failed",
  not_found: "the session or directory does not exist",
  invalid_request: "the host's request was refused: it is not one the bridge can run",
  internal: "internal error in opencode-bridge",
};
