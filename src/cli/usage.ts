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
  opencode-bridge replay <file.sse> [--session <id>] [--trace-id <id>]
      Print the replies of one turn of a recorded OpenCode /event stream as JSON Lines.
      The session defaults to the first one that receives a prompt in the file.

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
      POST /v1/turns/:trace_id/abort, POST /v1/turns/:trace_id/requests/:request_id,
      GET /v1/turns[/:trace_id], GET /console (a web page), GET /healthz, GET /metrics
      (see docs/daemon.md).
      Without --opencode-url (or OPENCODE_URL) it starts and owns an opencode serve.
      --host HOST                  listen address (default 127.0.0.1)
      --port N                     listen port (default 4141; 0 picks a free one)
      --token TOKEN                bearer token required on every route but /healthz
                                   (env BRIDGE_TOKEN, preferred: arguments show in ps);
                                   without one a token is generated once and kept in
                                   the state directory (file token, owner-only)
      --no-token                   no authentication (loopback only; logs a warning)
      --state-dir DIR              token and journal (default $XDG_STATE_HOME/opencode-bridge,
                                   else ~/.local/state/opencode-bridge)
      --allow-origin ORIGIN        browser origin allowed to call (repeatable; others get 403)
      --allow-host NAME            Host name accepted besides IP addresses and localhost (repeatable)
      --opencode-url URL           OpenCode server; password from OPENCODE_SERVER_PASSWORD
      --directory DIR              default project directory of turns (default: the current one)
      --webhook URL                POST every reply there (env BRIDGE_WEBHOOK_URL; repeatable)
      --webhook-max-attempts N     --webhook-max-elapsed S     --webhook-backoff S
      --webhook-timeout S          each webhook attempt (default 10)
      --jsonl FILE                 append every reply to FILE as JSON Lines (- for stdout; repeatable)
      --permission reject|allow|ask  default policy for permission requests (default reject;
                                   ask: answered over HTTP or in the console, /console)
      --first-event-timeout S      --idle-timeout S      --turn-timeout S
      --retain-turns N             finished turns kept for event subscribers (default 100)
      --max-active-turns N         turns running at once (default 32)
      --shutdown-grace S           on SIGTERM, running turns get this long (default 10)
      --close-timeout S            then everything else gets this long (default 10);
                                   a second SIGTERM/SIGINT exits at once
      --max-subscribers N          event subscribers in total (default 512)
      --max-subscribers-per-turn N (default 32)
      --max-connections N          open connections (default 1024)
      --log-level LEVEL            logs go to stderr (default info)

  opencode-bridge demo [--jsonl]
      Offline, no API key: a scripted model, a throw-away project and an owned
      opencode serve run one turn that streams text and calls a tool, shown
      readably (or as JSON Lines with --jsonl). Installs the pinned opencode-ai
      into .cache/opencode on first use.

Exit codes: 0 the turn ended final (serve: shut down cleanly), 1 it ended error
(serve: could not start), 2 bad usage (serve: also a --jsonl file that cannot be
opened), 130/143 serve stopped by a second SIGINT/SIGTERM.
`;
