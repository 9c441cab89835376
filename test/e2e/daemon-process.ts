/**
 * The daemon as its users run it, for end-to-end tests: the built CLI's `serve`
 * in a child process on a free port, with its own throw-away state directory
 * unless the test names one.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createParser } from "eventsource-parser";
import { expect } from "vitest";
import type { Reply } from "../../src/codec/reply.js";
import { startLive, type Live } from "../support/live.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "dist", "cli", "main.js");

export interface Daemon {
  readonly url: string;
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  readonly stateDir: string;
  stderr(): string;
  /** Resolves when stderr matches `re`. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<void>;
}

export const tempStateDir = () => mkdtempSync(join(tmpdir(), "bridge-state-"));

/** Spawns `serve --port 0 …args` (plus `--state-dir` unless given); resolves once it listens. `nodeArgs` go before the CLI. */
export function startDaemon(args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<Daemon> {
  const given = args.indexOf("--state-dir");
  const stateDir = given >= 0 ? (args[given + 1] as string) : tempStateDir();
  const child = spawn(process.execPath, [...nodeArgs, CLI, "serve", "--port", "0", ...(given >= 0 ? [] : ["--state-dir", stateDir]), ...args], {
    cwd: ROOT,
    env: { ...process.env, OPENCODE_URL: "", BRIDGE_TOKEN: "", BRIDGE_WEBHOOK_URL: "", ...env },
  });
  let err = "";
  const watchers = new Set<() => void>();
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    err += c;
    for (const w of [...watchers]) w();
  });
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const waitForLog = (re: RegExp, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!re.test(err)) return;
        watchers.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        watchers.delete(check);
        reject(new Error(`no ${re} in the daemon's stderr within ${timeoutMs} ms:\n${err}`));
      }, timeoutMs);
      watchers.add(check);
      void exited.then(() => {
        if (!watchers.has(check)) return;
        watchers.delete(check);
        clearTimeout(timer);
        reject(new Error(`the daemon exited before ${re}:\n${err}`));
      });
      check();
    });
  return waitForLog(/"msg":"listening"/).then(() => {
    const url = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"listening"/.exec(err)?.[1];
    if (!url) throw new Error(`no URL in ${err}`);
    return { url, child, exited, stateDir, stderr: () => err, waitForLog };
  });
}

/**
 * A live OpenCode (test/support/live.ts, `opts`) with the daemon in front of it:
 * token `token`, OpenCode's password passed on, and OpenCode's `permission` as the
 * daemon's `--permission` too when given, then `more` arguments.
 */
export async function startLiveDaemon(token: string, opts: Parameters<typeof startLive>[0] = {}, more: string[] = []): Promise<{ live: Live; daemon: Daemon }> {
  const live = await startLive(opts);
  try {
    const args = ["--opencode-url", live.url, "--directory", live.directory, ...(opts.permission ? ["--permission", opts.permission] : []), ...more];
    return { live, daemon: await startDaemon(args, { BRIDGE_TOKEN: token, OPENCODE_SERVER_PASSWORD: live.password ?? "" }) };
  } catch (err) {
    await live.stop();
    throw err;
  }
}

/** Stops what startLiveDaemon started, whatever state it is in: the daemon killed and waited for, then OpenCode and the model. */
export async function stopLiveDaemon(daemon: Daemon | undefined, live: Live | undefined): Promise<void> {
  daemon?.child.kill("SIGKILL");
  await daemon?.exited;
  await live?.stop();
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: Record<string, unknown> | undefined;
}

/** One request with fetch; a body is sent as JSON (a string as given). */
export async function callDaemon(d: { url: string }, method: string, path: string, body: unknown, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${d.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: json as Record<string, unknown> | undefined };
}

/** A request with any headers, Host included (fetch will not forge Host), as a browser or an attacker would send it. */
export function rawRequest(
  d: { url: string },
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const u = new URL(d.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers, setHost: headers.host === undefined }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Runs `serve …args` expected to exit on its own (a refused start); resolves with its exit code and stderr. */
export function serveUntilExit(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", "--state-dir", tempStateDir(), ...args], {
    cwd: ROOT,
    env: { ...process.env, OPENCODE_URL: "", BRIDGE_TOKEN: "", BRIDGE_WEBHOOK_URL: "", ...env },
  });
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
  child.stdout.resume();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: err });
    }),
  );
}

/** Reads a turn's event stream (GET /v1/turns/:trace_id/events) to its end: its replies and the `done` event. */
export async function turnEvents(
  d: { url: string },
  traceId: string,
  headers: Record<string, string>,
): Promise<{ replies: Reply[]; done: { outcome: string } | undefined }> {
  const res = await fetch(`${d.url}/v1/turns/${encodeURIComponent(traceId)}/events`, { headers });
  expect(res.status).toBe(200);
  const replies: Reply[] = [];
  let done: { outcome: string } | undefined;
  const parser = createParser({
    onEvent: (e) => {
      if (e.event === "reply") replies.push(JSON.parse(e.data) as Reply);
      if (e.event === "done") done = JSON.parse(e.data) as { outcome: string };
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of res.body ?? []) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
  return { replies, done };
}

export interface Frame {
  event: string;
  data: Record<string, unknown>;
}

/** Follows a turn's event stream; `frames` fills as they come, `ended` resolves at the stream's end. */
export function follow(d: { url: string }, traceId: string, headers: Record<string, string>): { frames: Frame[]; ended: Promise<void> } {
  const frames: Frame[] = [];
  const ended = (async () => {
    const res = await fetch(`${d.url}/v1/turns/${encodeURIComponent(traceId)}/events`, { headers });
    expect(res.status).toBe(200);
    const parser = createParser({ onEvent: (e) => void frames.push({ event: e.event ?? "message", data: JSON.parse(e.data) as Record<string, unknown> }) });
    const decoder = new TextDecoder();
    if (!res.body) throw new Error("no body");
    for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }));
  })();
  return { frames, ended };
}

/** Polls `get` (every 50 ms) until it gives a value other than undefined; throws naming `what` after `ms`. */
export async function until<T>(get: () => T | undefined | Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls the turn (GET /v1/turns/:id) until it has a pending request; throws after `ms`. */
export async function pendingRequest(d: { url: string }, traceId: string, headers: Record<string, string>, ms = 60_000): Promise<{ request_id: string; kind: string }> {
  const end = Date.now() + ms;
  for (;;) {
    const t = await callDaemon(d, "GET", `/v1/turns/${traceId}`, undefined, headers);
    const req = (t.json?.pending_requests as { request_id: string; kind: string }[] | undefined)?.[0];
    if (req !== undefined) return req;
    if (Date.now() > end) throw new Error(`no pending request in ${traceId}: ${t.text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
