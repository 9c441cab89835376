export class UsageError extends Error {}

/** A `--NAME S` option given in seconds, as milliseconds; undefined when absent. */
export function secondsOption(name: string, v: string | undefined, allowZero = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    const bound = allowZero ? "of at least 0" : "greater than 0";
    throw new UsageError(`--${name} takes a number of seconds ${bound}, got ${JSON.stringify(v)}`);
  }
  return Math.round(n * 1000);
}

export const USAGE = `usage:
  opencode-bridge replay <file.sse | -> [--session <id>] [--trace-id <id>] [--pretty | --jsonl]
                         [--list-sessions] [--max-frame-bytes N]
      Print the replies of one turn of a recorded OpenCode /event stream as JSON Lines
      (- reads stdin; --pretty: the readable view). The session defaults to the first
      one that receives a prompt; --list-sessions lists them with their first prompt.

  opencode-bridge prompt [options] <text>
      Run one turn against OpenCode and print its replies (JSON Lines; a readable
      view with --pretty, the default on a terminal). Without --url (or OPENCODE_URL)
      it starts and owns an opencode serve for --directory.
      --url URL                    OpenCode server (env OPENCODE_URL); password from OPENCODE_SERVER_PASSWORD
      --directory DIR              project directory (default: the current one)
      --session ID                 resume this session (default: a new one)
      --trace-id ID                trace id of the turn's replies
      --model provider/model       --agent NAME
      --first-event-timeout S      --idle-timeout S      --turn-timeout S
      --permission reject|allow    answer to permission requests (default reject)
      --pretty | --jsonl           output format
      --log-level LEVEL            logs go to stderr (default warn)

  opencode-bridge serve [options]
      An HTTP daemon: POST /v1/turns, GET /v1/turns/:trace_id/events (SSE),
      POST /v1/turns/:trace_id/abort, GET /healthz, GET /metrics (see docs/daemon.md).
      Without --opencode-url (or OPENCODE_URL) it starts and owns an opencode serve.
      --host HOST                  listen address (default 127.0.0.1)
      --port N                     listen port (default 4141; 0 picks a free one)
      --token TOKEN                bearer token required on every route but /healthz
                                   (env BRIDGE_TOKEN, preferred: arguments show in ps);
                                   required to listen beyond loopback
      --opencode-url URL           OpenCode server; password from OPENCODE_SERVER_PASSWORD
      --directory DIR              default project directory of turns (default: the current one)
      --webhook URL                POST every reply there (env BRIDGE_WEBHOOK_URL; repeatable)
      --webhook-max-attempts N     --webhook-max-elapsed S     --webhook-backoff S
      --jsonl FILE                 append every reply to FILE as JSON Lines (- for stdout; repeatable)
      --permission reject|allow    answer to permission requests (default reject)
      --first-event-timeout S      --idle-timeout S      --turn-timeout S
      --retain-turns N             finished turns kept for event subscribers (default 100)
      --max-active-turns N         turns running at once (default 32)
      --shutdown-grace S           on SIGTERM, running turns get this long (default 10)
      --log-level LEVEL            logs go to stderr (default info)

  opencode-bridge demo [--jsonl]
      Offline, no API key: a scripted model, a throw-away project and an owned
      opencode serve run one turn that streams text and calls a tool, shown
      readably (or as JSON Lines with --jsonl). Installs the pinned opencode-ai
      into .cache/opencode on first use.

Exit codes: 0 the turn ended final (serve: shut down cleanly), 1 it ended error
(serve: could not start), 2 bad usage.
`;
