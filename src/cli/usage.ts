export class UsageError extends Error {}

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

Exit codes: 0 the turn ended final, 1 it ended error, 2 bad usage.
`;
