/**
 * The request vocabulary: what the bridge tells a sink about OpenCode's
 * permission and question requests, and what an answer looks like.
 *
 * Pure wire types, shared by the adapter (which raises and answers requests,
 * src/adapter/requests.ts) and the sinks (which receive `RequestEvent`s). They
 * live here, beside the reply contract, so that neither layer imports the
 * other's internals. Types only: nothing here loads at run time.
 */

export type PermissionReply = "once" | "always" | "reject";

/** The tool call a request belongs to. */
export interface RequestTool {
  readonly message_id: string;
  readonly call_id: string;
}

/**
 * The subagent a request comes from: a child session (at any depth) that a `task`
 * tool of the turn started. Its requests are the turn's, answered the same way.
 */
export interface RequestSubagent {
  /** The child session that asks (also the request's `session_id`). */
  readonly session_id: string;
  /** The `task` call's `description`, when the bridge saw it. */
  readonly description?: string;
  /** The `task` call's `subagent_type` (e.g. `general`), when the bridge saw it. */
  readonly agent?: string;
}

/** OpenCode asks to run a tool: `permission` is what (bash, edit, external_directory …), `patterns` on what. */
export interface PermissionAsk {
  readonly kind: "permission";
  readonly request_id: string;
  readonly trace_id: string;
  /** The session that asks: the turn's, or a subagent's (then `subagent` says which). */
  readonly session_id: string;
  readonly subagent?: RequestSubagent;
  readonly tool?: RequestTool;
  readonly permission: string;
  readonly patterns: readonly string[];
  /** What an `always` answer would allow from now on (e.g. `echo *`). */
  readonly always: readonly string[];
  /** 1.18 sends `{ command }` for bash; older lines `{}`. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface QuestionOption {
  readonly label: string;
  readonly description?: string;
}

export interface QuestionItem {
  readonly question: string;
  readonly header?: string;
  readonly options: readonly QuestionOption[];
  /** Several labels may be chosen. */
  readonly multiple?: boolean;
  /** Free text is allowed besides the options (OpenCode's default). */
  readonly custom?: boolean;
}

/** The model's `question` tool asks the user to choose. */
export interface QuestionAsk {
  readonly kind: "question";
  readonly request_id: string;
  readonly trace_id: string;
  readonly session_id: string;
  readonly subagent?: RequestSubagent;
  readonly tool?: RequestTool;
  readonly questions: readonly QuestionItem[];
}

export type BridgeRequest = PermissionAsk | QuestionAsk;

/**
 * An answer. To a permission: `{ reply, message? }` (a message goes to the model
 * with a rejection). To a question: `{ answers }`, one array of chosen labels (or
 * free text) per question, or `{ reply: "reject" }` to dismiss it.
 */
export type RequestAnswer =
  | { readonly reply: PermissionReply; readonly message?: string }
  | { readonly answers: readonly (readonly string[])[] };

/** Who settled a request. */
export type ResolvedBy = "policy" | "host" | "nobody" | "timeout" | "elsewhere" | "ended";

/** What the sink's optional `request` method receives; not replies (no `seq`). */
export type RequestEvent =
  | { readonly type: "request"; readonly trace_id: string; readonly session_id: string; readonly request: BridgeRequest }
  | {
      readonly type: "request_resolved";
      readonly trace_id: string;
      readonly session_id: string;
      readonly request_id: string;
      /** `permission` or `question` (not `kind`: that names reply kinds). */
      readonly request_kind: BridgeRequest["kind"];
      readonly by: ResolvedBy;
      /** The answer given, when the bridge gave one. */
      readonly answer?: RequestAnswer;
    };
