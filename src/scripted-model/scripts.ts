/**
 * Deterministic scripts for the scripted OpenAI-compatible model.
 *
 * A prompt selects its script with a marker `[scenario:NAME]` anywhere in the
 * user's text. The script is a list of steps; the step to play is the number of
 * assistant messages that follow the last user message in the request, so the
 * model is stateless: after a tool call OpenCode sends the tool results back and
 * the next step (usually the closing text) is played.
 */

export interface ToolCallSpec {
  readonly id: string;
  readonly name: string;
  readonly arguments: Record<string, unknown>;
}

export type Step =
  | {
      readonly kind: "stream";
      readonly reasoning?: readonly string[];
      readonly text?: readonly string[];
      readonly toolCalls?: readonly ToolCallSpec[];
      /** Milliseconds between chunks; 0 streams as fast as the socket takes them. */
      readonly chunkDelayMs?: number;
      /** Stop sending after this many chunks and hold the connection open (a stalled model). */
      readonly stallAfter?: number;
      /** Play `text` instead when no tool result since the last user message contains `marker` (a refused tool). */
      readonly unlessToolSaid?: { readonly marker: string; readonly text: readonly string[] };
      /** Answer the first N requests for this step with an HTTP error (a flaky provider), then stream. */
      readonly failFirst?: { readonly times: number; readonly status: number; readonly body: unknown };
    }
  | {
      readonly kind: "http-error";
      readonly status: number;
      readonly body: unknown;
    };

export type Script = readonly Step[];

/** Text as chunks of one word each (with the space that follows it). */
export const words = (s: string): string[] => s.match(/\S+\s*/g) ?? [];

/** Chunks that cut through grapheme clusters and multi-code-unit characters on purpose. */
const nonAscii = [
  "Grüße aus Zürich — ",
  "naïve café, ",
  "日本語の",
  "テキスト、",
  "emoji 🧪",
  "🚀 and ",
  "family 👩‍👩",
  "‍👧 ",
  "combining e\u0301 ",
  "RTL שלום ",
  "done ✅",
];

/** `n` one-word chunks: `w0 `, `w1 ` … */
const longText = (n: number): string[] => Array.from({ length: n }, (_, i) => `w${i} `);

/**
 * The commonest script: a step of tool calls (after `before`'s text), then `after` once
 * their results are back; both steps paced `chunkDelayMs` apart when it is given.
 */
export function callsThen(calls: readonly ToolCallSpec[], after: string, before?: string, chunkDelayMs?: number): Script {
  const pace = chunkDelayMs === undefined ? {} : { chunkDelayMs };
  return [
    { kind: "stream", ...(before === undefined ? {} : { text: words(before) }), toolCalls: calls, ...pace },
    { kind: "stream", text: words(after), ...pace },
  ];
}

export const bash = (id: string, command: string, description: string): ToolCallSpec => ({ id, name: "bash", arguments: { command, description } });

/** A `task` call: a subagent (a child session of the general agent) runs `scenario` with `prompt`. */
const task = (id: string, description: string, scenario: string, prompt: string): ToolCallSpec => ({
  id,
  name: "task",
  arguments: { description, prompt: `[scenario:${scenario}] ${prompt}`, subagent_type: "general" },
});

/** A plugin's tag cut across chunks (the "plugin-tag" scenarios). */
const PLUGIN_TAG_TEXT = ["Kept text ", "<dcp-mess", "age-id>m0042</dcp-", "message-id>", " and more", " text."];

export const scripts: Readonly<Record<string, Script>> = {
  text: [{ kind: "stream", text: words("Hello from the scripted model. This is plain text.") }],
  reasoning: [
    {
      kind: "stream",
      reasoning: words("The user wants a greeting. I will think briefly, then answer."),
      text: words("Here is the answer after thinking."),
    },
  ],
  tool: [
    { kind: "stream", text: words("Let me run a command."), toolCalls: [bash("call_echo_1", "echo bridge-tool-ok", "Echo a marker")] },
    {
      kind: "stream",
      text: words("The command printed bridge-tool-ok."),
      unlessToolSaid: { marker: "bridge-tool-ok", text: words("The command did not run, so I have no output to report.") },
    },
  ],
  "tool-error": callsThen([{ id: "call_read_missing", name: "read", arguments: { filePath: "does-not-exist-7f3a.txt" } }], "That file does not exist."),
  "two-tools": callsThen([bash("call_a", "echo first-tool", "First"), bash("call_b", "echo second-tool", "Second")], "Both commands ran.", "Running two commands."),
  "non-ascii": [{ kind: "stream", text: nonAscii }],
  "provider-error": [
    {
      kind: "http-error",
      status: 401,
      body: {
        error: {
          message: "Incorrect API key provided: sk-scri****. You can find your API key in your dashboard.",
          type: "invalid_request_error",
          param: null,
          code: "invalid_api_key",
        },
      },
    },
  ],
  /** The provider answers HTTP 500 to every request (a provider failing for good). */
  "provider-500": [
    {
      kind: "http-error",
      status: 500,
      body: { error: { message: "The scripted provider failed internally", type: "server_error", code: "internal_error" } },
    },
  ],
  long: [{ kind: "stream", text: longText(1200) }],
  /**
   * A model that echoes a context-pruning plugin's tag (as models do when a plugin such as
   * opencode-dcp puts `<dcp-message-id>` markers into their context); the tag is cut across chunks.
   */
  "plugin-tag": [{ kind: "stream", text: PLUGIN_TAG_TEXT }],
  /** 60 words, 300 ms apart (18 s): still streaming after a daemon killed mid-turn has restarted. */
  "slow-follow": [{ kind: "stream", text: longText(60), chunkDelayMs: 300 }],
  /** The plugin-tag answer streamed slowly (a chunk every 400 ms): for a daemon killed mid-turn. */
  "slow-plugin-tag": [{ kind: "stream", text: PLUGIN_TAG_TEXT, chunkDelayMs: 400 }],
  /** A tool the permission policy governs (edit of a new file). */
  permission: callsThen([bash("call_write_1", "echo needs-permission", "Needs permission")], "After the permission decision."),
  /** Streams a little text, then stops sending and holds the connection open. */
  stall: [{ kind: "stream", text: words("I will now stall forever and ever."), stallAfter: 2 }],
  /** A subagent: the task tool starts a child session that runs the `text` script. */
  subagent: callsThen([task("call_task_1", "Say hello", "text", "Say hello as the subagent.")], "The subagent said hello."),
  /** A subagent whose own work needs permission: its child session runs the `permission` script. */
  "subagent-permission": callsThen([task("call_task_perm", "Run a guarded command", "permission", "Run it as the subagent.")], "The subagent reported back."),
  /** A subagent that works for about 8 s (its parent session hears nothing meanwhile), then the parent answers. */
  "slow-subagent": callsThen([task("call_task_slow", "Work slowly", "slow-child", "Work slowly as the subagent.")], "The slow subagent finished its work."),
  /** The slow subagent's own script: 40 words, 200 ms apart. */
  "slow-child": [{ kind: "stream", text: longText(40), chunkDelayMs: 200 }],
  /** A quiet tool: a command that prints nothing for 8 s (a build, a test suite), then the answer. */
  "quiet-tool": callsThen([bash("call_quiet_1", "sleep 8 && echo quiet-done", "Quiet work")], "The quiet command finished."),
  /** The provider answers 503 twice (OpenCode retries), then streams. */
  retry: [
    {
      kind: "stream",
      text: words("Answer after two retries."),
      failFirst: {
        times: 2,
        status: 503,
        body: { error: { message: "The server is overloaded, please retry", type: "server_error", code: "overloaded" } },
      },
    },
  ],
  /** Slow text, long enough to abort or cut in the middle. */
  slow: [{ kind: "stream", text: longText(200), chunkDelayMs: 10 }],
  /** About 3 MB of text in 300 chunks of 10 KB: more than the daemon keeps per turn (2 MiB) and than loopback socket buffers take. */
  huge: [{ kind: "stream", text: Array.from({ length: 300 }, (_, i) => `c${i} `.padEnd(10_000, "lorem ipsum ")) }],
  /** Two governed commands one after the other: "once" asks twice, "always" (pattern `echo *`) asks once. */
  "permission-twice": [
    { kind: "stream", toolCalls: [bash("call_perm_a", "echo first-permitted", "First")] },
    ...callsThen([bash("call_perm_b", "echo second-permitted", "Second")], "Both permitted commands ran."),
  ],
  /** OpenCode's `question` tool: one single-choice question with two options. */
  question: [
    {
      kind: "stream",
      text: words("I need to ask you something."),
      toolCalls: [
        {
          id: "call_question_1",
          name: "question",
          arguments: {
            questions: [
              {
                question: "Which colour should the button be?",
                header: "Button colour",
                options: [
                  { label: "Blue", description: "Calm and familiar" },
                  { label: "Red", description: "Loud and urgent" },
                ],
              },
            ],
          },
        },
      ],
    },
    { kind: "stream", text: words("Thanks for answering.") },
  ],
  /** Reasoning, text and a tool call in one step, then text: one of each kind of output. */
  "mixed-turn": [
    {
      kind: "stream",
      reasoning: words("I should run a command first."),
      text: words("Running a command."),
      toolCalls: [bash("call_mixed_1", "echo mixed-ok", "Echo")],
    },
    { kind: "stream", reasoning: words("It worked."), text: words("The command printed mixed-ok.") },
  ],
  /** Reads a file outside the project: OpenCode's default `external_directory: ask` rule asks. */
  "external-read": callsThen([{ id: "call_external_1", name: "read", arguments: { filePath: "/etc/hostname" } }], "Done with the outside file."),
  /** A plain answer to a prompt that carries files (the capture records what the model was sent). */
  files: [{ kind: "stream", text: words("I received your files.") }],
};

/** Text that answers requests without a scenario marker (for example OpenCode's title generation). */
export const defaultScript: Script = [{ kind: "stream", text: ["Scripted", " session"] }];

/** The script a user's text names with `[scenario:NAME]` (in `extra` first; an unknown name: the default); undefined: no marker. */
export function selectScript(userText: string, extra?: Readonly<Record<string, Script>>): { name: string; script: Script } | undefined {
  const name = /\[scenario:([a-z0-9-]+)\]/.exec(userText)?.[1];
  if (name === undefined) return undefined;
  const script = extra?.[name] ?? scripts[name];
  return script ? { name, script } : { name: "default", script: defaultScript };
}
