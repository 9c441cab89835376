/**
 * `createDialect`: the one place a backend client is built, and where the line of
 * an OpenCode server is found at connect time.
 *
 * 2.x answers `GET /api/info` with `{version, pid, urls, paths, capabilities}` and
 * 1.x's routes with its web app's HTML (200); 1.x answers `GET /global/health` with
 * `{healthy, version}` and `/api/info` with HTML (or 401 when it has a password).
 * Both are asked at once; a URL where neither answers as OpenCode does fails with
 * one line that says so (never a web page quoted). A wrong password is `auth` on
 * either line (2.x's web app answers `/global/health` without one: a 401 on
 * `/api/info` next to HTML there is 2.x refusing the credentials).
 */
import type {
  Dialect,
  DialectTarget,
  Line,
  PermissionDecision,
  PromptBody,
  ServerInfo,
  SessionCreate,
  StreamReceiver,
} from "./dialect.js";
import type { RecordMessage } from "../codec/record.js";
import { OpencodeV1 } from "./dialect-v1.js";
import { OpencodeV2 } from "./dialect-v2.js";
import { BridgeError } from "./errors.js";

/** The client for `target`: of its line when given, else of the line the server shows on first use. */
export function createDialect(target: DialectTarget): Dialect {
  return target.line === undefined ? new Detecting(target) : build(target, target.line);
}

function build(t: DialectTarget, line: Line): OpencodeV1 | OpencodeV2 {
  return line === 1 ? new OpencodeV1(t) : new OpencodeV2(t);
}

/** Ask both lines' info routes at once; the dialect of the one that answers as OpenCode does. */
export async function detectLine(t: DialectTarget, signal?: AbortSignal): Promise<{ dialect: OpencodeV1 | OpencodeV2; info: ServerInfo }> {
  const v1 = build(t, 1);
  const v2 = build(t, 2);
  const [a, b] = await Promise.allSettled([v2.info(signal), v1.info(signal)]);
  if (a.status === "fulfilled") return { dialect: v2, info: a.value };
  if (b.status === "fulfilled") return { dialect: v1, info: b.value };
  const e2 = a.reason as unknown;
  const e1 = b.reason as unknown;
  // A refusal of the credentials is the server speaking: it wins over a failure to reach the other route.
  if (e1 instanceof BridgeError && e1.code === "auth") throw e1;
  if (e2 instanceof BridgeError && e2.code === "auth") {
    throw new BridgeError("auth", `OpenCode 2.x refused the credentials (HTTP ${e2.details.status ?? 401} for GET /api/info): ${
      v2.http.auth ? "check the password (OPENCODE_SERVER_PASSWORD) and username" : "2.x always needs a password: set OPENCODE_SERVER_PASSWORD"
    }`, e2.details);
  }
  for (const e of [e1, e2]) {
    // Not there at all (refused, DNS, timeout): say so as it is.
    if (e instanceof BridgeError && (e.code === "transport" || e.code === "timeout")) throw e;
  }
  throw new BridgeError(
    "protocol",
    `${t.baseUrl} is not an OpenCode server: neither GET /api/info (2.x) nor GET /global/health (1.x) answered as OpenCode does`,
    { url: t.baseUrl, cause: e1 },
  );
}

/**
 * The line of a server given by URL, found once in the background (two requests)
 * and then known for `knownMs`, so that what is made for each turn (its session,
 * its adapter) need not ask again. While it is not known `get` says so and it is
 * being found: the caller goes on without it (a dialect that finds the line itself,
 * and says why it cannot: a server down, a refused password), waiting for nothing.
 * A different OpenCode started at the same URL is met within `knownMs`, or at once
 * by a health probe (`set`).
 */
export class KnownLine {
  private found: { readonly line: Line; readonly at: number } | undefined;
  private finding = false;

  constructor(
    private readonly target: DialectTarget,
    private readonly knownMs = 30_000,
  ) {}

  get(): Line | undefined {
    if (this.found !== undefined && performance.now() - this.found.at < this.knownMs) return this.found.line;
    if (!this.finding) {
      this.finding = true;
      detectLine(this.target)
        .then(
          ({ info }) => this.set(info.line),
          () => this.set(undefined),
        )
        .finally(() => (this.finding = false));
    }
    return undefined;
  }

  /** What the server was just found to be (undefined: nothing answered as OpenCode does). */
  set(line: Line | undefined): void {
    this.found = line === undefined ? undefined : { line, at: performance.now() };
  }
}

/**
 * A dialect that finds its line on first use: every call waits for the answer
 * (asked once; asked again after a failure), then goes to the line's dialect.
 */
class Detecting implements Dialect {
  private found: Promise<{ dialect: OpencodeV1 | OpencodeV2; info: ServerInfo }> | undefined;
  private dialect: Dialect | undefined;

  constructor(private readonly target: DialectTarget) {}

  private ready(signal?: AbortSignal): Promise<Dialect> {
    if (this.dialect) return Promise.resolve(this.dialect);
    return this.detect(signal).then((f) => f.dialect);
  }

  private detect(signal?: AbortSignal): Promise<{ dialect: OpencodeV1 | OpencodeV2; info: ServerInfo }> {
    this.found ??= detectLine(this.target, signal).then(
      (f) => {
        this.dialect = f.dialect;
        return f;
      },
      (err: unknown) => {
        this.found = undefined;
        throw err;
      },
    );
    return this.found;
  }

  get serverClockOffsetMs(): number | undefined {
    return this.dialect?.serverClockOffsetMs;
  }

  get authKey(): string {
    // Both lines send the same header for the same credentials.
    return this.dialect?.authKey ?? build(this.target, 1).authKey;
  }

  async info(signal?: AbortSignal): Promise<ServerInfo> {
    // The first answer is the detection's; later ones ask the server again (health may change).
    if (this.dialect) return this.dialect.info(signal);
    return (await this.detect(signal)).info;
  }

  async openEvents(to: StreamReceiver, signal: AbortSignal): Promise<{ ended: Promise<BridgeError> }> {
    return (await this.ready(signal)).openEvents(to, signal);
  }
  async createSession(opts?: SessionCreate, signal?: AbortSignal): Promise<string> {
    return (await this.ready(signal)).createSession(opts, signal);
  }
  async sessionExists(sessionId: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.ready(signal)).sessionExists(sessionId, signal);
  }
  async deleteSession(sessionId: string): Promise<boolean> {
    return (await this.ready()).deleteSession(sessionId);
  }
  async sessionMessages(sessionId: string, limit: number, signal?: AbortSignal): Promise<RecordMessage[]> {
    return (await this.ready(signal)).sessionMessages(sessionId, limit, signal);
  }
  async recentMessageIds(sessionId: string, limit: number, signal?: AbortSignal): Promise<string[]> {
    return (await this.ready(signal)).recentMessageIds(sessionId, limit, signal);
  }
  async prompt(sessionId: string, body: PromptBody, signal?: AbortSignal): Promise<void> {
    return (await this.ready(signal)).prompt(sessionId, body, signal);
  }
  async abort(sessionId: string): Promise<void> {
    return (await this.ready()).abort(sessionId);
  }
  async sessionStatus(signal?: AbortSignal): Promise<Record<string, { type: string }>> {
    return (await this.ready(signal)).sessionStatus(signal);
  }
  async replyPermission(sessionId: string, requestId: string, decision: PermissionDecision, message?: string): Promise<boolean> {
    return (await this.ready()).replyPermission(sessionId, requestId, decision, message);
  }
  async replyQuestion(sessionId: string, requestId: string, answers: readonly (readonly string[])[]): Promise<boolean> {
    return (await this.ready()).replyQuestion(sessionId, requestId, answers);
  }
  async rejectQuestion(sessionId: string, requestId: string): Promise<boolean> {
    return (await this.ready()).rejectQuestion(sessionId, requestId);
  }
}
