/**
 * The `opencode-bridge` command's words: the overview, each command's help and
 * the exit statuses they share. Text only; the parser is in usage.ts.
 */
import { scenarioList } from "../scripted-model/scenarios.js";

/** The first line of each command's help, for the overview. */
const SUMMARY: Readonly<Record<string, string>> = {
  prompt: "run one turn against OpenCode and print its replies",
  serve: "the HTTP daemon: turns over HTTP, replies as Server-Sent Events",
  replay: "print the replies of a recorded OpenCode /event stream",
  demo: "one offline turn with a scripted model (no API key)",
  "scripted-model": "run the scripted model for your own OpenCode, host or tests",
  install: "install the pinned OpenCode into the per-user cache",
  doctor: "say which opencode would run, from where, and what is cached",
};

export const COMMANDS = Object.keys(SUMMARY);

const EXIT_CODES = `Exit status: 0 the turn ended final, 1 it ended error (or the command failed),
2 bad usage, 130 interrupted (Ctrl-C; the same under npx).`;

export const HELP: Record<string, string> = {
  prompt: `usage: opencode-bridge prompt [options] <text>

Run one turn against OpenCode and print its replies: JSON Lines, or a readable
view with --pretty (the default on a terminal). Without --url (or OPENCODE_URL)
it starts and owns an opencode serve for --directory; with --scripted it runs
against the offline scripted model instead (no API key; see
\`opencode-bridge scripted-model --help\` for its scenarios).

  --url URL                  OpenCode server (env OPENCODE_URL); password from
                             OPENCODE_SERVER_PASSWORD
  --acp "COMMAND"            an ACP agent instead, started for the turn in its own
                             process group: "opencode acp", "claude-agent-acp",
                             "codex-acp" (those two run the pinned versions in the
                             per-user cache when installed there), or any command
                             that speaks ACP on stdio; --session resumes one of its
                             sessions; --model, --agent and --no-verify do not apply
  --directory DIR            project directory (default: the current one)
  --scripted                 the scripted model, a throw-away project and an
                             owned opencode serve (installed on first use)
  --scenario NAME            with --scripted: the script to play (default text)
  --opencode-version V       the opencode serve to start (with --scripted or without
                             --url): 1 (opencode-ai 1.18.33, the default), 2
                             (@opencode/cli 2.1.2) or a version such as 1.15.13;
                             installed into the per-user cache on first use
  --session ID               resume this session (default: a new one)
  --trace-id ID              trace id of the turn's replies
  --model provider/model     --agent NAME
  --first-event-timeout S    default 60
  --idle-timeout S           default 120
  --turn-timeout S           default 1800
  --tool-timeout S           one tool may run at most this long (default: no
                             bound; the idle clock pauses while a tool runs)
  --no-verify                trust the stream: do not read the server's record of
                             the turn before its final (by default it is read once,
                             to repair what the stream missed and to end error
                             transport an answer the server never finished)
  --permission reject|allow|ask  permission requests: ask the person at the terminal
                             (the default on a terminal; questions are asked too),
                             else reject (the default otherwise) or allow
  --pretty | --jsonl         output format
  --log-level LEVEL          fatal|error|warn|info|debug|trace|silent, on stderr
                             (default warn; env LOG_LEVEL)

Ctrl-C aborts the turn (and the OpenCode session): its last reply is error
aborted and the exit status 130; a second Ctrl-C quits at once.
${EXIT_CODES}
`,
  serve: `usage: opencode-bridge serve [options]

An HTTP daemon: POST /v1/turns, GET /v1/turns/:trace_id/events (SSE),
POST /v1/turns/:trace_id/abort, POST /v1/turns/:trace_id/requests/:request_id,
GET /v1/turns[/:trace_id], GET /console (a web page for operators), GET /healthz,
GET /v1/backends, GET /metrics (docs/daemon.md).
Without --opencode-url (or OPENCODE_URL) it starts and owns an opencode serve.

  --host HOST                listen address (default 127.0.0.1)
  --port N                   listen port (default 4141; 0 picks a free one)
  --token TOKEN              bearer token required on every route but /healthz
                             (env BRIDGE_TOKEN, preferred: arguments show in ps);
                             without one a token is generated once and kept in
                             the state directory (file token, owner-only)
  --no-token                 no authentication (loopback only; logs a warning)
  --state-dir DIR            token and journal (default $XDG_STATE_HOME/opencode-bridge,
                             else ~/.local/state/opencode-bridge)
  --store URL                a postgres:// URL (env BRIDGE_STORE): turns, replies,
                             acknowledgements and keyed sessions live there instead
                             of the journal, shared by every daemon given the same
                             URL (any of them accepts and serves any turn)
  --lease S                  with --store: a daemon's claim on a turn lasts S seconds
                             unless renewed; a dead daemon's turns are taken over
                             within it (default 10, at most 15)
  --allow-origin ORIGIN      browser origin allowed to call (repeatable; others get 403)
  --allow-host NAME          Host name accepted besides IP addresses and localhost
                             (repeatable)
  --opencode-url URL         OpenCode server; password from OPENCODE_SERVER_PASSWORD
  --scripted                 run turns against the offline scripted model (no API
                             key) and an owned opencode serve in a throw-away project
  --opencode-version V       the opencode serve to own: 1 (1.18.33, the default),
                             2 (2.1.2) or a version; installed into the per-user
                             cache on first use (wins over OPENCODE_BIN)
  --acp "COMMAND"            run turns on an ACP agent instead: "opencode acp",
                             "claude-agent-acp", "codex-acp" or any command that
                             speaks ACP on stdio; one agent process per session (in
                             its own process group), started at start-up once to
                             check it; turns take text only (no model, agent, files)
  --directory DIR            default project directory of turns (default: current);
                             a turn may name a directory inside it, nowhere else
  --allow-directory DIR      also allow turns in DIR and below (repeatable); / and
                             system directories (/etc, /proc …) only when named here
  --webhook URL              POST every reply there (env BRIDGE_WEBHOOK_URL; repeatable)
  --webhook-max-attempts N   --webhook-max-elapsed S     --webhook-backoff S
  --webhook-timeout S        each webhook attempt (default 10)
  --webhook-batch            replies that wait while a POST is in flight go as one
                             JSON array in the next POST (docs/daemon.md)
  --jsonl FILE               append every reply to FILE as JSON Lines (- for stdout;
                             repeatable)
  --permission reject|allow|ask  default policy for permission requests (default reject;
                             ask: answered over HTTP or in the console, GET /console)
  --answer-timeout S         an unanswered request is rejected after this long
                             (default 600), whether or not a client is connected
  --first-event-timeout S    --idle-timeout S      --turn-timeout S
  --tool-timeout S           one tool may run at most this long; the turn then ends
                             error timeout (default: no bound; the idle clock pauses
                             while a tool runs)
  --no-verify                trust the stream: do not read the server's record of
                             a turn before its final (default: read once)
  --retain-turns N           finished turns kept for event subscribers (default 100)
  --max-active-turns N       turns running at once (default 32)
  --shutdown-grace S         on SIGTERM, running turns get this long (default 10)
  --close-timeout S          then everything else gets this long (default 10);
                             a second SIGTERM/SIGINT exits at once
  --max-subscribers N        event subscribers in total (default 512)
  --max-subscribers-per-turn N  (default 32)
  --max-connections N        open connections (default 1024)
  --log-level LEVEL          on stderr (default info; env LOG_LEVEL)

Exit status: 0 shut down cleanly (SIGTERM/SIGINT), 1 could not start, 2 bad usage
(also a --jsonl file that cannot be opened), 130/143 stopped by a second SIGINT/SIGTERM.
(Under npx, Ctrl-C shows npm's own 130, and a SIGTERM to npx reaches the daemon
through a watch on its parent; a service manager should run the installed
node_modules/.bin/opencode-bridge directly.)
`,
  replay: `usage: opencode-bridge replay <file.sse | -> [options]

Print the replies of one turn of a recorded OpenCode /event stream (- reads stdin)
as JSON Lines, or readably with --pretty. It streams: memory does not grow with
the number of replies. The session defaults to the first one that receives a
prompt in the stream.

Options:
  --session ID            replay this session's turn (see --list-sessions)
  --trace-id ID           trace id of the replies (default: replay)
  --pretty | --jsonl      readable view (as \`prompt --pretty\`) or JSON Lines (the default)
  --list-sessions         list the sessions in the stream with their first prompt, and exit
  --max-frame-bytes N     frames larger than N bytes are dropped (default 16777216)

Exit status: 0 the turn ended final, 1 it ended error — the same when the reader
closed stdout early (| head: the rest is read, not printed), 2 bad usage or input that is not a recorded stream (no such file, a
directory, an empty file, not SSE, a session that is not in the file).
`,
  demo: `usage: opencode-bridge demo [--opencode-version 1|2|V] [--jsonl] [--log-level LEVEL]

Offline, no API key: the scripted model, a throw-away project and an owned
opencode serve run one turn that streams text and calls a tool, shown readably
(or as JSON Lines with --jsonl). The first run installs the pinned OpenCode
into the per-user cache (see \`opencode-bridge doctor\`); later runs, from any
directory, use it and need no network.

  --opencode-version V       which OpenCode: 1 (opencode-ai 1.18.33, the default),
                             2 (@opencode/cli 2.1.2: only this platform's binary
                             is installed) or a version such as 1.15.13 (wins
                             over OPENCODE_BIN)

${EXIT_CODES}
`,
  "scripted-model": `usage: opencode-bridge scripted-model [--port N] [--directory DIR] [--permission allow|ask|deny]

Run the scripted model: a small OpenAI-compatible server on loopback that plays
deterministic scripts, for trying the bridge, a host or its tests with no API key.
It prints its base URL and a ready OpenCode project directory wired to it (an
opencode.json naming the "scripted" provider, and an isolated HOME), then runs
until Ctrl-C and removes that project. With --directory DIR it writes the
provider block into DIR/opencode.json instead (merged with what is there).

A prompt chooses its script with a marker anywhere in its text, e.g.
"[scenario:tool] run it"; without one the model answers "Scripted session".

Scenarios:
${scenarioList()}

  --port N                   listen port (default: a free one)
  --directory DIR            write the provider into DIR/opencode.json
  --permission allow|ask|deny  OpenCode's permission for edit, bash and webfetch
                             in the project (default allow)

Exit status: 0 stopped by Ctrl-C/SIGTERM (under npx, Ctrl-C shows npm's 130),
1 could not start, 2 bad usage.
`,
  install: `usage: opencode-bridge install [--version V]

Install an OpenCode version with npm into the per-user cache, unless it is
there: 1 (default; opencode-ai 1.18.33), 2 (2.1.2: only this platform's
@opencode/cli-<platform>-<arch>, the binary alone) or a version such as 1.15.13. demo and --scripted do this on first use.
The cache is $OPENCODE_BRIDGE_CACHE, else $XDG_CACHE_HOME/opencode-bridge, else
~/.cache/opencode-bridge.

Exit status: 0 installed (or already there), 1 the install failed, 2 bad usage.
`,
  doctor: `usage: opencode-bridge doctor

Say which opencode binary prompt and serve would start (and where it was found:
OPENCODE_BIN, an installed opencode-ai package, the cache, or PATH), where the
cache is, which versions it holds (and their line, 1.x or 2.x), what demo and
--scripted would start for each line, and whether npm is there to install into it.

Exit status: 0 a binary is available, 1 none is, 2 bad usage.
`,
};

export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.length));
  return `usage: opencode-bridge <command> [options]

${COMMANDS.map((c) => `  ${c.padEnd(width)}  ${SUMMARY[c]}`).join("\n")}

\`opencode-bridge <command> --help\` describes a command and its options.
${EXIT_CODES}
`;
}
