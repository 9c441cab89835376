/**
 * `opencode-bridge replay`: the replies of one turn of a recorded OpenCode
 * `/event` stream (a file, or `-` for stdin), as JSON Lines or the readable view.
 *
 * It streams: replies are written as they are produced, through a buffer that
 * batches lines into large writes and waits when the reader is slower (the next
 * chunk of input is read only once stdout has drained), and none is kept after
 * it is written — memory does not grow with the number of replies.
 *
 * Exit codes: 0 the turn ended `final`, 1 it ended `error` — the same when the
 * reader closed stdout early (the replay still finds out how the turn ended,
 * without printing), 2 bad usage or input that is not a recorded stream (no such file,
 * a directory, an empty file, not SSE, a session that is not in the file).
 */
import { createReadStream, statSync } from "node:fs";
import { resolve } from "node:path";
import { type Readable, Writable as WritableStream } from "node:stream";
import { TurnReplayer } from "../codec/replay.js";
import type { Reply } from "../codec/reply.js";
import type { CliIo } from "./io.js";
import { BufferedOut, JsonLines } from "./json-lines.js";
import { oneLine, PrettySink } from "./pretty.js";
import { SessionLister, sessionOfPayload } from "./replay-sessions.js";
import { parseOptions, UsageError } from "./usage.js";
import { errorMessage } from "../util/errors.js";
import { Utf8Stream } from "../stream/utf8.js";

// Its help text is HELP.replay in ./usage.ts.

/**
 * Where the command reads and writes, of the CLI's io: the streams (stdin default: the
 * process's) and the directory relative paths are resolved against (default: the process's).
 */
export type ReplayIo = Pick<CliIo, "stdout" | "stderr"> & Partial<Pick<CliIo, "stdin" | "cwd">>;

/** A problem with the input that makes the replay pointless: one line on stderr, exit 2. */
class InputError extends Error {}

/** Control characters (C0, DEL, C1, line separators) as visible escapes, so input cannot drive the terminal. */
export function escapeControls(s: string): string {
  // eslint-disable-next-line no-control-regex -- escaping them is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

type Options = ReturnType<typeof readOptions>;

function readOptions(args: string[]) {
  const { values, positionals } = parseOptions(
    "replay",
    args,
    {
      session: { type: "string" },
      "trace-id": { type: "string" },
      pretty: { type: "boolean" },
      jsonl: { type: "boolean" },
      "list-sessions": { type: "boolean" },
      "max-frame-bytes": { type: "string" },
    },
    true,
  );
  if (positionals.length !== 1) {
    throw new UsageError(`replay takes one file (or - for stdin), got ${positionals.length === 0 ? "none" : positionals.length}`);
  }
  const nonEmpty = (name: string, v: string | undefined) => {
    if (v !== undefined && v.trim() === "") throw new UsageError(`--${name} takes a non-empty value, got ${JSON.stringify(v)}`);
    return v;
  };
  const cap = values["max-frame-bytes"];
  const maxFrameBytes = cap === undefined ? undefined : Number(cap);
  if (maxFrameBytes !== undefined && (!/^\s*\d+\s*$/.test(cap ?? "") || !Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 1)) {
    throw new UsageError(`--max-frame-bytes takes a whole number of bytes greater than 0, got ${escapeControls(JSON.stringify(cap))}`);
  }
  if (values.pretty && values.jsonl) throw new UsageError("--pretty and --jsonl exclude each other");
  const listSessions = values["list-sessions"] === true;
  if (listSessions) {
    const extra = (["session", "trace-id", "pretty", "jsonl"] as const).find((k) => values[k] !== undefined);
    if (extra) throw new UsageError(`--list-sessions takes no --${extra}`);
  }
  return {
    source: positionals[0] as string,
    sessionId: nonEmpty("session", values.session),
    traceId: nonEmpty("trace-id", values["trace-id"]),
    pretty: values.pretty === true,
    listSessions,
    maxFrameBytes,
  };
}

/** The input as a stream of chunks, or an InputError for a path that cannot be a recorded stream. */
function openInput(source: string, io: ReplayIo): { name: string; stream: Readable } {
  if (source === "-") return { name: "stdin", stream: io.stdin ?? process.stdin };
  const name = escapeControls(source);
  const path = resolve(io.cwd ?? process.cwd(), source);
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new InputError(`no such file: ${name}`);
    throw new InputError(`cannot read ${name}: ${escapeControls(errorMessage(err))}`);
  }
  if (st.isDirectory()) throw new InputError(`${name} is a directory; replay reads a recorded /event stream (a .sse file, or - for stdin)`);
  // 64 KiB reads: each chunk decodes to a string that lives and dies in the young
  // generation; 256 KiB ones went to the large-object space and piled up there
  // until a full GC (~50 MB more peak RSS over a 253 MB file).
  return { name, stream: createReadStream(path, { highWaterMark: 64 * 1024 }) };
}

/** The input's first bytes without a byte-order mark and leading blank lines: what `requireSse` decides on. */
const sseHead = (head: string) => head.replace(/^\uFEFF/, "").replace(/^[\r\n]+/, "");

/**
 * Refuses an input that is not an SSE stream at all: its first non-blank line must be
 * an SSE field (`data:`, `event:`, `id:`, `retry:`) or a comment (`:`). Anything else
 * (JSON Lines, a log, binary) is refused before it can be misread as a stream that
 * "ended before the turn finished".
 */
function requireSse(name: string, head: string): void {
  if (/^(?:data|event|id|retry)(?::|[\r\n]|$)|^:/.test(head)) return;
  const line = head.split(/\r\n|\r|\n/, 1)[0] ?? "";
  const shown = escapeControls(line.length > 60 ? `${line.slice(0, 60)}…` : line);
  const looksJsonl = /^\s*\{.*"kind"\s*:/.test(line);
  throw new InputError(
    looksJsonl
      ? `${name} is JSON Lines (replies?), not a recorded /event stream: replay reads the SSE stream OpenCode sends (data: {…} frames), e.g. test/fixtures/*/*.sse; its first line is ${shown}`
      : `${name} is not a recorded /event stream (SSE): its first line is ${shown}`,
  );
}

export async function runReplay(args: string[], io: ReplayIo): Promise<number> {
  const opts = readOptions(args);
  // A closed stderr (`2>&1 | head`) must not turn a diagnostic into a crash.
  if (io.stderr.listenerCount("error") === 0) io.stderr.on("error", () => {});
  const err = (msg: string) => io.stderr.write(`opencode-bridge replay: ${escapeControls(msg)}\n`);
  try {
    const input = openInput(opts.source, io);
    return opts.listSessions ? await listSessions(input, opts, io) : await replayTurn(input, opts, io, err);
  } catch (e) {
    if (e instanceof InputError) {
      err(e.message);
      return 2;
    }
    throw e;
  }
}

/**
 * Feeds the input to the replayer chunk by chunk. `next` runs after each chunk and
 * may wait (backpressure) or stop reading (false). Refuses an empty input and one
 * that is not SSE. Leaving the loop early, by return or throw, destroys the input
 * stream (the async iterator's contract).
 */
async function feedInput(
  input: { name: string; stream: Readable },
  r: TurnReplayer,
  next: () => boolean | Promise<boolean>,
): Promise<void> {
  const text = new Utf8Stream();
  /** The input so far, until it is long enough (8 characters, or a line) to tell whether it is SSE; then undefined. */
  let head: string | undefined = "";
  let bytes = 0;
  try {
    for await (const chunk of input.stream as AsyncIterable<Buffer | string>) {
      bytes += chunk.length;
      if (head !== undefined) {
        head += typeof chunk === "string" ? chunk : text.decode(chunk);
        const t = sseHead(head);
        if (t.length >= 8 || /[\r\n]/.test(t)) {
          requireSse(input.name, t);
          head = undefined;
        }
      }
      r.push(chunk);
      if (!(await next())) return;
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read ${input.name}: ${escapeControls(errorMessage(e))}`);
  }
  if (bytes === 0) throw new InputError(`${input.name} is empty: replay reads a recorded OpenCode /event stream`);
  // A short input is decided on what there is.
  const rest = sseHead(head ?? "");
  if (rest !== "") requireSse(input.name, rest);
}

async function replayTurn(
  input: { name: string; stream: Readable },
  opts: Options,
  io: ReplayIo,
  err: (msg: string) => void,
): Promise<number> {
  const out = new BufferedOut(io.stdout);
  const put = (s: string) => out.write(s);
  let deliver: (r: Reply) => void;
  if (opts.pretty) {
    // The readable view writes through the same buffer; coloured when stdout is a terminal.
    const through = new WritableStream({ decodeStrings: false, write: (chunk: string, _enc, cb) => (put(chunk), cb()) });
    const view = new PrettySink(through, io.stdout.isTTY === true);
    deliver = (r) => view.deliver(r);
  } else {
    const lines = new JsonLines();
    deliver = (r) => lines.write(r, put);
  }
  const wanted = opts.sessionId;
  let wantedSeen = wanted === undefined;
  /** Set once stdout closed and the turn is over: nothing left to learn or print. */
  let stopped = false;
  const r = new TurnReplayer({
    retain: false,
    traceId: opts.traceId,
    sessionId: wanted,
    maxFrameBytes: opts.maxFrameBytes,
    onReply: deliver,
    onIssue: (i) => {
      if (!stopped) err(`${input.name}: ${i.code}: ${i.message}`);
    },
    onEvent: wantedSeen ? undefined : (p) => {
      if (!wantedSeen && sessionOfPayload(p) === wanted) wantedSeen = true;
    },
  });
  await feedInput(input, r, async () => {
    if (out.closed && r.done) {
      stopped = true;
      return false;
    }
    if (out.needsDrain) await out.drain();
    return true;
  });
  if (wanted !== undefined && !wantedSeen) {
    throw new InputError(`session ${wanted} is not in ${input.name} (see replay --list-sessions ${opts.source === "-" ? "-" : input.name})`);
  }
  const summary = r.endSummary();
  if (summary.events === 0) {
    err(`${input.name} holds no OpenCode event (no data: frame with JSON)`);
  } else if (summary.state.userMessageId === undefined && !stopped) {
    err(`${input.name}: no turn found: no${wanted === undefined ? "" : ` ${wanted}`} session receives a prompt in it (see --list-sessions)`);
  }
  await out.end();
  if (out.failure) {
    err(`cannot write the replies: ${out.failure.message}`);
    return 1;
  }
  return summary.terminal.kind === "final" ? 0 : 1;
}

async function listSessions(input: { name: string; stream: Readable }, opts: Options, io: ReplayIo): Promise<number> {
  const lister = new SessionLister();
  const r = new TurnReplayer({ retain: false, maxFrameBytes: opts.maxFrameBytes, onEvent: (p) => lister.add(p) });
  await feedInput(input, r, () => true);
  r.endSummary();
  const out = new BufferedOut(io.stdout);
  const sessions = [...lister.sessions.values()];
  if (sessions.length === 0) {
    io.stderr.write(`opencode-bridge replay: ${input.name}: no session in it\n`);
    return 1;
  }
  for (const s of sessions) {
    const prompt = s.firstPrompt === undefined ? "(no prompt text)" : escapeControls(oneLine(s.firstPrompt, 100));
    const parent = s.parentId === undefined ? "" : `  (subagent of ${escapeControls(s.parentId)})`;
    const n = `${s.prompts} prompt${s.prompts === 1 ? "" : "s"}`;
    out.write(`${escapeControls(s.id)}  ${n.padEnd(10)}  ${prompt}${parent}\n`);
  }
  await out.end();
  return 0;
}
