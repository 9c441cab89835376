/**
 * Usage of the `opencode-bridge` command: per-command help, the option parser
 * (Node's parseArgs, with its errors put in our own words) and usage errors.
 */
import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import pino from "pino";
import { MAX_TIMER_MS } from "../adapter/config.js";
import { PINNED_OPENCODE2_VERSION, PINNED_OPENCODE_VERSION, resolveOpencodeVersion } from "../server/install.js";
import type { Output } from "./io.js";

/** Bad usage: exit 2 with one line and a pointer to the command's help. */
export class UsageError extends Error {
  constructor(
    message: string,
    public command?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** A `--NAME S` option given in seconds, as milliseconds; undefined when absent. */
export function secondsOption(name: string, v: string | undefined, allowZero = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    const bound = allowZero ? "of at least 0" : "greater than 0";
    throw new UsageError(`--${name} takes a number of seconds ${bound}, got ${JSON.stringify(v)}`);
  }
  const ms = Math.round(n * 1000);
  // Milliseconds are the unit below: 0.0001 would silently become 0.
  if (ms === 0 && n > 0 && !allowZero) throw new UsageError(`--${name} takes a number of seconds of at least 0.001, got ${JSON.stringify(v)}`);
  if (ms > MAX_TIMER_MS) throw new UsageError(`--${name} takes at most ${MAX_TIMER_MS / 1000} seconds (about 24.8 days, Node's longest timer), got ${JSON.stringify(v)}`);
  return ms;
}

/** The turn's timeout flags and the adapter option each sets. */
const TIMEOUTS = {
  "first-event-timeout": "firstEventTimeoutMs",
  "idle-timeout": "idleTimeoutMs",
  "turn-timeout": "turnTimeoutMs",
  "tool-timeout": "toolTimeoutMs",
  "answer-timeout": "answerTimeoutMs",
} as const;

/**
 * The timeouts given, as adapter options. They must be positive: 0 is refused (a turn
 * or a tool bounded to no time at all is a mistake, and "no bound" is leaving the flag out).
 */
export function timeoutOptions(values: Readonly<Record<string, unknown>>): Partial<Record<(typeof TIMEOUTS)[keyof typeof TIMEOUTS], number>> {
  const out: Partial<Record<(typeof TIMEOUTS)[keyof typeof TIMEOUTS], number>> = {};
  for (const [flag, key] of Object.entries(TIMEOUTS)) {
    const ms = secondsOption(flag, values[flag] as string | undefined);
    if (ms !== undefined) out[key] = ms;
  }
  return out;
}

/** `--acp "COMMAND"`: a command, and none of the options (`clashes`) that only apply to OpenCode. */
export function acpOption(values: Readonly<Record<string, unknown>>, clashes: readonly string[]): void {
  if (values.acp === undefined) return;
  if ((values.acp as string).trim() === "") throw new UsageError('--acp takes the agent command, e.g. --acp "opencode acp"');
  const clash = clashes.find((k) => values[k] !== undefined);
  if (clash !== undefined) throw new UsageError(`--acp runs an ACP agent: leave out --${clash}`);
}

/** An option or environment variable given empty counts as not given. */
export const nonEmpty = (v: string | undefined) => (v === undefined || v === "" ? undefined : v);

/** `--permission`: the policy for permission requests. */
export function permissionOption(v: string): "reject" | "allow" | "ask" {
  if (v !== "reject" && v !== "allow" && v !== "ask") throw new UsageError(`--permission takes reject, allow or ask, got ${JSON.stringify(v)}`);
  return v;
}

/** `--opencode-version`: `1`, `2` (each line's pinned version) or a version; undefined when absent. */
export function opencodeVersionOption(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const version = resolveOpencodeVersion(v);
  if (version === undefined) {
    throw new UsageError(
      `--opencode-version takes 1 (${PINNED_OPENCODE_VERSION}), 2 (${PINNED_OPENCODE2_VERSION}) or a version such as ${PINNED_OPENCODE2_VERSION}, got ${JSON.stringify(v)}`,
    );
  }
  return version;
}

/**
 * A whole-number flag of a daemon or webhook option. Its bounds are the option's
 * schema's (src/daemon/options.ts, src/sink/webhook.ts): stated once, there.
 */
export function integer(name: string, v: string | undefined, field: { unwrap(): { minValue: number | null; maxValue: number | null } }): number | undefined {
  if (v === undefined) return undefined;
  const { minValue, maxValue } = field.unwrap();
  const min = minValue ?? 0;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} takes a whole number of at least ${min}, got ${JSON.stringify(v)}`);
  if (maxValue !== null && Number(v) > maxValue) throw new UsageError(`--${name} takes ${min} to ${maxValue}, got ${Number(v)}`);
  return Number(v);
}

type OptionSpec = { readonly type: "string" | "boolean"; readonly multiple?: boolean; readonly short?: string };
type Values<T extends Record<string, OptionSpec>> = {
  -readonly [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : T[K] extends { multiple: true } ? string[] : string;
};

type Specs<S extends string, F extends string, L extends string> = {
  [K in S | F | L]: K extends F ? { type: "boolean" } : K extends L ? { type: "string"; multiple: true } : { type: "string" };
};

/** parseArgs' option specs by name: `--NAME VALUE` options, `--NAME` flags, and `--NAME VALUE` options that repeat. */
export function optionSpecs<const S extends string, const F extends string = never, const L extends string = never>(
  strings: readonly S[],
  flags: readonly F[] = [],
  repeatable: readonly L[] = [],
): Specs<S, F, L> {
  const specs: Record<string, OptionSpec> = {};
  for (const name of strings) specs[name] = { type: "string" };
  for (const name of flags) specs[name] = { type: "boolean" };
  for (const name of repeatable) specs[name] = { type: "string", multiple: true };
  return specs as Specs<S, F, L>;
}

/**
 * parseArgs in strict mode, its errors rewritten as one short UsageError
 * (Node's own text suggests quoting that does not apply to us).
 */
export function parseOptions<T extends Record<string, OptionSpec>>(
  command: string,
  args: readonly string[],
  options: T,
  allowPositionals: boolean,
): { values: Values<T>; positionals: string[] } {
  try {
    const r = parseArgs({ args: [...args], options, allowPositionals, strict: true });
    return { values: r.values as Values<T>, positionals: r.positionals };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const msg = e.message ?? "";
    const opt = /'(-{1,2}[^' <]+)/.exec(msg)?.[1];
    switch (e.code) {
      case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
        throw new UsageError(`${command} has no option ${opt ?? msg}`, command);
      case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
        if (/does not take an argument/.test(msg)) throw new UsageError(`${opt} takes no value`, command);
        if (/ambiguous/.test(msg)) throw new UsageError(`${opt} needs a value (for one that starts with a dash, write ${opt}=VALUE)`, command);
        throw new UsageError(`${opt} needs a value`, command);
      case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL": {
        const arg = /'([^']*)'/.exec(msg)?.[1];
        throw new UsageError(`${command} takes no arguments, got ${JSON.stringify(arg)}`, command);
      }
      default:
        throw err;
    }
  }
}

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** The log level from --log-level, else $LOG_LEVEL, else `fallback`; anything else is a usage error. */
export function logLevel(option: string | undefined, env: Readonly<Record<string, string | undefined>>, fallback: string): string {
  const [v, from] = option !== undefined ? [option, "--log-level"] : env.LOG_LEVEL ? [env.LOG_LEVEL, "LOG_LEVEL"] : [fallback, ""];
  if (!(LEVELS as readonly string[]).includes(v)) {
    throw new UsageError(`${from} takes one of ${LEVELS.join(", ")}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** `--directory` must name an existing directory: said in those words (exit 2), not as a failed spawn later. */
export function requireDirectory(directory: string): void {
  let isDir = false;
  try {
    isDir = statSync(directory).isDirectory();
  } catch {
    // no such path, or one that cannot be read: not a directory to work in
  }
  if (!isDir) throw new UsageError(`--directory ${directory}: no such directory (give the project directory OpenCode should work in)`);
}

/**
 * The CLI's logger: JSON lines on stderr. No `pid`/`hostname` base fields: the
 * lines come from this one process, and the `pid` key is left to the children
 * they report on (an owned opencode serve), so a line never carries it twice.
 */
export function cliLogger(level: string, dest: Output, redact?: pino.LoggerOptions["redact"]): pino.Logger {
  return pino({ level, base: undefined, ...(redact ? { redact } : {}) }, dest);
}
