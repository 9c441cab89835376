/**
 * Keyed sessions: a host names its conversations (a chat thread, a ticket, a job)
 * and the bridge keeps one OpenCode session per name.
 *
 * A key is mapped to a session through a pluggable `SessionStore` (in memory by
 * default; the daemon keeps a file in its state directory). Each entry records the
 * session id, a hash of the configuration that shaped the session (title, model,
 * agent, permission rules, parent) and how its last turn ended. A key gets a NEW
 * session when:
 * - the configuration hash differs (another model, agent, title, parent or rules);
 * - its last turn ended `transport` or `timeout`: the session may still be busy or
 *   wedged on the server, and a fresh one is the safe place for the next prompt;
 * - its session no longer exists on the server (deleted elsewhere: 404).
 * Every other ending (`final`, `upstream`, `aborted`, `permission`, …) keeps it.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Dialect, PermissionRule, SessionCreate } from "./dialect.js";
import { errorMessage } from "../util/errors.js";

export interface SessionOptions {
  /** Default: `bridge: <key>`. */
  readonly title?: string;
  /** "provider/model": part of the configuration hash, sent with each prompt. */
  readonly model?: string;
  readonly agent?: string;
  /** Rules the session is created with. */
  readonly permission?: readonly PermissionRule[];
  /** Create the session as a child of this one. */
  readonly parentID?: string;
}

export interface SessionEntry {
  readonly sessionId: string;
  readonly configHash: string;
  /** How the last turn in it ended: "final" or an error code; undefined before the first turn ends. */
  lastOutcome?: string;
}

/** Where keys are kept. Methods may be sync or async. */
export interface SessionStore {
  get(key: string): SessionEntry | undefined | Promise<SessionEntry | undefined>;
  set(key: string, entry: SessionEntry): void | Promise<void>;
  delete(key: string): void | Promise<void>;
}

export class MemorySessionStore implements SessionStore {
  protected readonly map = new Map<string, SessionEntry>();
  get(key: string): SessionEntry | undefined {
    return this.map.get(key);
  }
  set(key: string, entry: SessionEntry): void {
    this.map.set(key, entry);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
}

/**
 * A JSON file, rewritten atomically (write a copy, rename) on every change. Owner-only.
 * A file that cannot be parsed is moved aside (`<file>.corrupt-<ms>`, said in
 * `recovered`) and the store starts empty: keys then get new sessions, nothing else breaks.
 */
export class FileSessionStore extends MemorySessionStore {
  /** Set when the file was unreadable and moved aside. */
  readonly recovered: string | undefined;

  constructor(readonly file: string) {
    super();
    let text: string | undefined;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`cannot read the session keys in ${file}: ${errorMessage(err)}`);
    }
    if (text === undefined) return;
    try {
      const data = JSON.parse(text) as Record<string, SessionEntry>;
      if (typeof data !== "object" || data === null || Array.isArray(data)) throw new Error("not a JSON object");
      for (const [k, v] of Object.entries(data)) {
        if (typeof v?.sessionId === "string" && typeof v.configHash === "string") super.set(k, v);
      }
    } catch (err) {
      const aside = `${file}.corrupt-${Date.now()}`;
      renameSync(file, aside);
      this.recovered = `the session keys in ${file} could not be read (${errorMessage(err)}); moved to ${aside}, starting with none`;
    }
  }
  override set(key: string, entry: SessionEntry): void {
    super.set(key, entry);
    this.save();
  }
  override delete(key: string): void {
    super.delete(key);
    this.save();
  }
  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.map)), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

/** Turn endings after which a keyed session is not reused. */
export const REPLACE_AFTER: ReadonlySet<string> = new Set(["transport", "timeout"]);

export function sessionConfigHash(key: string, opts: SessionOptions): string {
  const shaped = {
    title: opts.title ?? defaultTitle(key),
    model: opts.model ?? null,
    agent: opts.agent ?? null,
    permission: opts.permission ?? null,
    parentID: opts.parentID ?? null,
  };
  return createHash("sha256").update(JSON.stringify(shaped)).digest("hex").slice(0, 32);
}

export const defaultTitle = (key: string) => `bridge: ${key}`;

/** Per session store, the keys whose session is being ensured now (see `SessionKeys.ensure`). */
const ensuring = new WeakMap<object, Map<string, Promise<unknown>>>();

/** Resolves keys to sessions over one OpenCode connection and one store. */
export class SessionKeys {
  /** Sessions this bridge created (for deleting them on close). */
  readonly created = new Set<string>();

  constructor(
    private readonly dialect: Dialect,
    readonly store: SessionStore,
  ) {}

  /** The key's session: reused when its configuration is unchanged and its last turn did not end transport/timeout; else a new one. */
  async ensure(key: string, opts: SessionOptions = {}, signal?: AbortSignal): Promise<{ sessionId: string; created: boolean }> {
    if (typeof key !== "string" || key === "") throw new TypeError(`session key must be a non-empty string, got ${JSON.stringify(key)}`);
    // One at a time per key and store: concurrent first turns of a key share the one session the first creates.
    const busy = ensuring.get(this.store) ?? new Map<string, Promise<unknown>>();
    ensuring.set(this.store, busy);
    const mine = (busy.get(key) ?? Promise.resolve()).catch(() => undefined).then(() => this.ensureNow(key, opts, signal));
    busy.set(key, mine);
    try {
      return await mine;
    } finally {
      if (busy.get(key) === mine) busy.delete(key);
    }
  }

  private async ensureNow(key: string, opts: SessionOptions, signal?: AbortSignal): Promise<{ sessionId: string; created: boolean }> {
    const hash = sessionConfigHash(key, opts);
    const known = await this.store.get(key);
    if (known && known.configHash === hash && !REPLACE_AFTER.has(known.lastOutcome ?? "")) {
      if (await this.dialect.sessionExists(known.sessionId, signal)) return { sessionId: known.sessionId, created: false };
    }
    const sessionId = await this.create(
      {
        title: opts.title ?? defaultTitle(key),
        ...(opts.parentID ? { parentID: opts.parentID } : {}),
        ...(opts.permission ? { permission: opts.permission } : {}),
      },
      signal,
    );
    await this.store.set(key, { sessionId, configHash: hash });
    return { sessionId, created: true };
  }

  /** A new session (keyed or not): the one place the bridge creates sessions, so it knows which it made. */
  async create(opts: SessionCreate = {}, signal?: AbortSignal): Promise<string> {
    const sessionId = await this.dialect.createSession(opts, signal);
    this.created.add(sessionId);
    return sessionId;
  }

  /** Record how a turn in the key's session ended (if the key still maps to that session). */
  async ended(key: string, sessionId: string, outcome: string): Promise<void> {
    const known = await this.store.get(key);
    if (known?.sessionId === sessionId) await this.store.set(key, { ...known, lastOutcome: outcome });
  }

  /** Delete the key's session (or a session id) on the server and forget the key. */
  async delete(keyOrSessionId: string): Promise<boolean> {
    const known = await this.store.get(keyOrSessionId);
    const sessionId = known?.sessionId ?? keyOrSessionId;
    if (known) await this.store.delete(keyOrSessionId);
    this.created.delete(sessionId);
    return this.dialect.deleteSession(sessionId);
  }
}
