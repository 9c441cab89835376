/**
 * The journal trusted as users run the daemon: the built CLI's `serve` in a
 * child process in front of a real `opencode serve` 1.18.33 and the scripted
 * model, killed -9 mid-turn and restarted on its state directory; and state
 * directories that are full, read-only, or hold the wrong things.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { createParser } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDialect } from "../../src/adapter/line.js";
import { OpencodeHttp } from "../../src/adapter/http.js";
import type { Dialect } from "../../src/adapter/dialect.js";
import { contractViolations, isTerminal, type Reply } from "../../src/codec/reply.js";
import { startRecorder } from "../support/recorder.js";
import { scenario, startLive, type Live } from "../support/live.js";
import { callDaemon, serveUntilExit, startDaemon, tempStateDir, turnEvents, until, type Daemon } from "./daemon-process.js";

const TOKEN = "journal-bridge-token-5e6f7a8b9c";
const PASSWORD = "journal-opencode-password-77cd";
const auth = { authorization: `Bearer ${TOKEN}` };
const env = () => ({ BRIDGE_TOKEN: TOKEN, OPENCODE_SERVER_PASSWORD: PASSWORD });
const TAG_FREE = "Kept text  and more text.";

const daemons: Daemon[] = [];
const mounts: string[] = [];

/** Resolves once the turn's event stream has shown `n` replies (then stops reading). */
async function firstReplies(d: Daemon, traceId: string, n: number): Promise<Reply[]> {
  const ac = new AbortController();
  const res = await fetch(`${d.url}/v1/turns/${encodeURIComponent(traceId)}/events`, { headers: auth, signal: ac.signal });
  const got: Reply[] = [];
  const parser = createParser({ onEvent: (e) => void (e.event === "reply" && got.push(JSON.parse(e.data) as Reply)) });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body ?? []) {
      parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
      if (got.length >= n) break;
    }
  } finally {
    ac.abort();
  }
  return got;
}

/** A whole turn as a subscriber sees it: gapless seq from 0, exactly one terminal, last, and the contract kept. */
function expectWhole(replies: Reply[]): Reply {
  expect(replies.map((r) => r.seq)).toEqual(replies.map((_, i) => i));
  expect(replies.filter(isTerminal)).toHaveLength(1);
  expect(contractViolations(replies)).toEqual([]);
  return replies.at(-1) as Reply;
}

/** Mounts a small tmpfs at a new directory; undefined where this process may not mount. */
function smallTmpfs(kib: number): string | undefined {
  const dir = tempStateDir();
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${kib}k,mode=0700`, "tmpfs", dir], { stdio: "ignore" });
  } catch {
    return undefined;
  }
  mounts.push(dir);
  return dir;
}

describe("serve's journal, killed and restarted", () => {
  let live: Live;
  let http: Dialect;
  const upstream = () => ["--opencode-url", live.url, "--directory", live.directory];
  const daemon = async (args: string[]) => {
    const d = await startDaemon(args, env());
    daemons.push(d);
    return d;
  };
  const kill = async (d: Daemon) => {
    d.child.kill("SIGKILL");
    await d.exited;
  };
  const idle = (sessionId: string) => until(async () => ((await http.sessionStatus())[sessionId] === undefined ? true : undefined), "OpenCode to finish the turn");
  const post = async (d: Daemon, body: Record<string, unknown>) => {
    const r = await callDaemon(d, "POST", "/v1/turns", body, auth);
    expect(r.status, r.text).toBe(202);
    return r.json as { trace_id: string; session_id: string };
  };

  beforeAll(async () => {
    live = await startLive({ permission: "allow", password: PASSWORD });
    http = createDialect({ baseUrl: live.url, directory: live.directory, password: PASSWORD, requestTimeoutMs: 5_000 });
  });
  afterAll(async () => {
    for (const d of daemons) d.child.kill("SIGKILL");
    await Promise.all(daemons.map((d) => d.exited));
    for (const m of mounts) execFileSync("umount", ["-l", m]);
    await live?.stop();
  });

  it("kill -9 mid-turn on a turn with plugin tags, then queued turns of its session: the restart recovers the tag-free text, each queued turn ends with its own error, never another's answer; the turn looks as before", async () => {
    const state = tempStateDir();
    const args = [...upstream(), "--state-dir", state];
    const first = await daemon(args);
    const a = await post(first, { text: scenario("slow-plugin-tag"), trace_id: "tagged", session_key: "queue", permission: "reject", question: "reject" });
    const queued = ["q1", "q2", "q3", "q4"];
    for (const q of queued) await post(first, { text: scenario("text", `queued ${q}`), trace_id: q, session_key: "queue" });
    const before = (await callDaemon(first, "GET", "/v1/turns/tagged", undefined, auth)).json as Record<string, unknown>;
    const seen = await firstReplies(first, "tagged", 1);
    expect(seen[0]).toMatchObject({ kind: "delta", content: "Kept text " });
    await kill(first);
    await idle(a.session_id);

    const second = await daemon(args);
    const got = await turnEvents(second, "tagged", auth);
    const last = expectWhole(got.replies);
    expect(last).toMatchObject({ kind: "final", content: TAG_FREE });
    expect(got.replies.filter((r) => r.kind === "delta").map((r) => (r as { content: string }).content).join("")).toBe(TAG_FREE);
    // Equal to OpenCode's own record of the answer, tags removed.
    const record = await http.sessionMessages(a.session_id, 50);
    const recorded = record.filter((m) => m.info.role === "assistant").flatMap((m) => (m.parts ?? []) as { type: string; text?: string }[]);
    expect(recorded.filter((p) => p.type === "text").map((p) => p.text).join("").replace(/<dcp-message-id>[^<]*<\/dcp-message-id>/g, "")).toBe(TAG_FREE);

    for (const q of queued) {
      const e = await turnEvents(second, q, auth);
      const end = expectWhole(e.replies);
      expect(end, q).toMatchObject({ kind: "error", code: "transport" });
      expect((end as { error: string }).error).toMatch(/before the turn's prompt reached OpenCode/);
      expect(e.replies.some((r) => r.kind === "final" || (r.kind === "delta" && r.content.includes("Kept")))).toBe(false);
    }
    // What the turn is survived the restart: its text, policy and accepted time.
    const after = (await callDaemon(second, "GET", "/v1/turns/tagged", undefined, auth)).json as Record<string, unknown>;
    for (const k of ["text", "permission", "question", "accepted_at", "session_id", "directory"]) expect(after[k], k).toEqual(before[k]);
    expect(after).toMatchObject({ state: "finished", outcome: "final", replies: got.replies.length });
    second.child.kill("SIGTERM");
    await second.exited;

    // A webhook added now is owed nothing of the turns that ended before it existed.
    const recorder = await startRecorder();
    try {
      const third = await daemon([...args, "--webhook", recorder.url]);
      await post(third, { text: scenario("text"), trace_id: "after-webhook" });
      await recorder.waitFor(() => recorder.replies("after-webhook").some(isTerminal), 30_000, "the new turn's final at the webhook");
      await new Promise((r) => setTimeout(r, 500));
      expect(new Set(recorder.attempts.map((x) => x.traceId))).toEqual(new Set(["after-webhook"]));
      third.child.kill("SIGTERM");
      await third.exited;
    } finally {
      await recorder.close();
    }
  }, 240_000);

  it("re-attach: kill -9 after the first reply of a slowly streaming turn, restart on the same state dir: the turn is followed to its end, final with the exact text of OpenCode's record, gapless seq, one terminal; a subscriber resuming with Last-Event-ID gets the rest without a gap", async () => {
    const state = tempStateDir();
    const args = [...upstream(), "--state-dir", state];
    const first = await daemon(args);
    // 60 words, 300 ms apart: about 18 s, still streaming after the restart.
    const t = await post(first, { text: scenario("slow-follow"), trace_id: "followed" });
    const seen = await firstReplies(first, "followed", 1);
    await kill(first);
    expect((await http.sessionStatus())[t.session_id]?.type).toBe("busy");

    const second = await daemon(args);
    // A subscriber that had seen seq 0 resumes after it.
    const res = await fetch(`${second.url}/v1/turns/followed/events`, { headers: { ...auth, "last-event-id": String(seen.at(-1)?.seq) } });
    const resumed: Reply[] = [];
    const parser = createParser({ onEvent: (e) => void (e.event === "reply" && resumed.push(JSON.parse(e.data) as Reply)) });
    const decoder = new TextDecoder();
    for await (const chunk of res.body ?? []) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
    await second.waitForLog(/following the turn again/);
    expect((await http.sessionStatus())[t.session_id]).toBeUndefined(); // OpenCode finished it: it was not aborted
    const whole = [...seen, ...resumed];
    const last = expectWhole(whole);
    const words = Array.from({ length: 60 }, (_, i) => `w${i} `).join("");
    expect(last).toMatchObject({ kind: "final", content: words });
    expect(whole.filter((r) => r.kind === "delta").map((r) => (r as { content: string }).content).join("")).toBe(words);
    const record = await http.sessionMessages(t.session_id, 50);
    const recorded = record.filter((m) => m.info.role === "assistant").flatMap((m) => (m.parts ?? []) as { type: string; text?: string }[]);
    expect(recorded.filter((p) => p.type === "text").map((p) => p.text).join("")).toBe(words);
    // From seq 0, the same stream.
    expect((await turnEvents(second, "followed", auth)).replies).toEqual(whole);
  }, 180_000);

  it("a stale daemon.pid naming a live unrelated process does not block start-up; a directory named sessions.json is a clear error", async () => {
    const state = tempStateDir();
    // The OpenCode server: alive, and not a daemon of this state directory.
    writeFileSync(join(state, "daemon.pid"), `${live.server.pid}\n`);
    const d = await daemon([...upstream(), "--state-dir", state]);
    expect((await callDaemon(d, "GET", "/healthz", undefined, {})).status).toBe(200);
    d.child.kill("SIGTERM");
    await d.exited;

    const bad = tempStateDir();
    mkdirSync(join(bad, "sessions.json"));
    const r = await serveUntilExit([...upstream(), "--state-dir", bad], env());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/sessions\.json is not a regular file/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);

  it("a full state directory refuses new turns with 503 and says so on /healthz, leaving no OpenCode session behind; with room again turns run; read-only, the daemon still starts and refuses", async (ctx) => {
    const state = smallTmpfs(1024);
    if (state === undefined) return ctx.skip(); // no mount here: test/journal-faults.test.ts covers ENOSPC with an injected fs
    const args = [...upstream(), "--state-dir", state];
    const d = await daemon(args);
    const raw = new OpencodeHttp({ baseUrl: live.url, directory: live.directory, password: PASSWORD, requestTimeoutMs: 5_000 });
    const sessions = async () => ((await raw.call("GET", "/session")).body as unknown[]).length;
    const n0 = await sessions();
    const filler = openSync(join(state, "filler"), "w");
    try {
      for (;;) writeSync(filler, Buffer.alloc(4096, 120));
    } catch {
      // full
    }
    closeSync(filler);
    for (let i = 0; i < 3; i++) {
      const r = await callDaemon(d, "POST", "/v1/turns", { text: scenario("text") }, auth);
      expect(r.status, r.text).toBe(503);
      expect(r.text).toMatch(/cannot record new turns[^]*ENOSPC/);
    }
    expect(await sessions()).toBe(n0);
    const h = await callDaemon(d, "GET", "/healthz", undefined, {});
    expect(h.status).toBe(503);
    expect(h.json).toMatchObject({ status: "degraded", bridge: { journal: { ok: false, error: expect.stringMatching(/ENOSPC/) as unknown } } });
    unlinkSync(join(state, "filler"));
    const t = await post(d, { text: scenario("text"), trace_id: "room-again" });
    expect((await turnEvents(d, t.trace_id, auth)).done?.outcome).toBe("final");
    expect((await callDaemon(d, "GET", "/healthz", undefined, {})).status).toBe(200);
    d.child.kill("SIGTERM");
    await d.exited;

    execFileSync("mount", ["-o", "remount,ro", state]);
    const ro = await daemon(args);
    const r = await callDaemon(ro, "POST", "/v1/turns", { text: scenario("text") }, auth);
    expect(r.status, r.text).toBe(503);
    expect(await sessions()).toBe(n0 + 1);
    expect(((await callDaemon(ro, "GET", "/healthz", undefined, {})).json as { bridge: { journal: { ok: boolean } } }).bridge.journal.ok).toBe(false);
    // What it had is still served.
    expect((await turnEvents(ro, "room-again", auth)).done?.outcome).toBe("final");
    ro.child.kill("SIGTERM");
    await ro.exited;
  }, 180_000);
});
