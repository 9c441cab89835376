/**
 * The daemon attacked as an operator would see it: the built CLI's `serve` in a
 * child process, in front of a real `opencode serve` and the scripted model,
 * against forged browser requests, a webhook receiver that never answers (with
 * the daemon collecting garbage every 20 ms), a full disk, subscribers that
 * never read, SIGKILL and restart, and the death of the OpenCode it owns.
 */
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractViolations, isTerminal, type Reply } from "../../src/codec/reply.js";
import { createDialect } from "../../src/adapter/line.js";
import { ensureOpencode } from "../../src/server/install.js";
import { startRecorder, flakyPlan, type Recorder } from "../support/recorder.js";
import { E2E_VERSION, scenario, startLive, type Live } from "../support/live.js";
import { callDaemon, rawRequest, serveUntilExit, startDaemon, tempStateDir, turnEvents, until, type Daemon } from "./daemon-process.js";

const events = (d: Daemon, traceId: string, headers = auth) => turnEvents(d, traceId, headers);

const TOKEN = "attack-bridge-token-0c1d2e3f4a";
const OPENCODE_PASSWORD = "attack-opencode-password-19ab";
const auth = { authorization: `Bearer ${TOKEN}` };
/** Every 20 ms a full collection in the daemon: a timeout held only weakly would be lost. */
const GC_OFTEN = ["--expose-gc", "--import", "data:text/javascript,setInterval(()=>globalThis.gc(),20).unref()"];

const daemons: Daemon[] = [];
async function daemon(args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<Daemon> {
  const d = await startDaemon(args, env, nodeArgs);
  daemons.push(d);
  return d;
}

function metric(text: string, name: string, labels = ""): number | undefined {
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? "") === labels) return Number(m[3]);
  }
  return undefined;
}

async function metrics(d: Daemon, headers = auth): Promise<string> {
  return (await callDaemon(d, "GET", "/metrics", undefined, headers)).text;
}

async function startTurn(d: Daemon, body: Record<string, unknown>, headers = auth): Promise<{ trace_id: string; session_id: string }> {
  const r = await callDaemon(d, "POST", "/v1/turns", body, headers);
  expect(r.status, r.text).toBe(202);
  return r.json as { trace_id: string; session_id: string };
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? NaN) * 1024;
}

/** A webhook receiver that takes requests and never answers. */
async function hangingReceiver(): Promise<{ url: string; server: Server; requests: () => number }> {
  let n = 0;
  const server = createServer((req) => {
    n++;
    req.resume();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server, requests: () => n };
}

describe("opencode-bridge serve under attack", () => {
  let live: Live;
  const servers: Server[] = [];
  const env = () => ({ BRIDGE_TOKEN: TOKEN, OPENCODE_SERVER_PASSWORD: OPENCODE_PASSWORD });
  const upstream = () => ["--opencode-url", live.url, "--directory", live.directory];

  beforeAll(async () => {
    live = await startLive({ permission: "allow", password: OPENCODE_PASSWORD });
  });
  afterAll(async () => {
    for (const d of daemons) d.child.kill("SIGKILL");
    await Promise.all(daemons.map((d) => d.exited));
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await live?.stop();
  });

  it("forged browser requests (foreign Origin or Host, text/plain) never start a turn or read a stream", async () => {
    const d = await daemon([...upstream(), "--allow-origin", "http://app.example"], env());
    const port = new URL(d.url).port;
    const body = JSON.stringify({ text: scenario("text"), trace_id: "forged" });
    const forged: [string, Record<string, string>][] = [
      ["foreign Origin, text/plain (a CORS simple request)", { origin: "http://evil.example", "content-type": "text/plain", ...auth }],
      ["foreign Origin, JSON", { origin: "http://evil.example", "content-type": "application/json", ...auth }],
      ["Origin null (a sandboxed page)", { origin: "null", "content-type": "application/json", ...auth }],
      ["foreign Host (DNS rebinding)", { host: `evil.example:${port}`, "content-type": "application/json", ...auth }],
    ];
    for (const [what, headers] of forged) {
      const r = await rawRequest(d, "POST", "/v1/turns", headers, body);
      expect(r.status, what).toBe(403);
    }
    // A rebinding page cannot read anything either, /healthz included.
    for (const path of ["/healthz", "/metrics", "/v1/turns/forged/events"]) {
      expect((await rawRequest(d, "GET", path, { host: `evil.example:${port}`, ...auth })).status, path).toBe(403);
      expect((await rawRequest(d, "GET", path, { origin: "http://evil.example", ...auth })).status, path).toBe(403);
    }
    // Not JSON: 415, with the token and no Origin too.
    const plain = await rawRequest(d, "POST", "/v1/turns", { "content-type": "text/plain", ...auth }, body);
    expect(plain.status).toBe(415);
    const form = await rawRequest(d, "POST", "/v1/turns", { "content-type": "application/x-www-form-urlencoded", ...auth }, body);
    expect(form.status).toBe(415);
    expect((await callDaemon(d, "GET", "/v1/turns/forged/events", undefined, auth)).status).toBe(404);

    // The allowed origin gets its preflight and its answers.
    const preflight = await rawRequest(d, "OPTIONS", "/v1/turns", {
      origin: "http://app.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("http://app.example");
    expect((await rawRequest(d, "OPTIONS", "/v1/turns", { origin: "http://evil.example" })).status).toBe(403);
    const allowed = await rawRequest(d, "POST", "/v1/turns", { origin: "http://app.example", "content-type": "application/json", ...auth }, JSON.stringify({ text: scenario("text"), trace_id: "from-app" }));
    expect(allowed.status, allowed.text).toBe(202);
    expect(allowed.headers["access-control-allow-origin"]).toBe("http://app.example");
    expect((await events(d, "from-app")).done?.outcome).toBe("final");

    // Path-like ids are refused.
    for (const bad of [{ trace_id: ".." }, { trace_id: "." }, { session_id: ".." }, { session_id: "." }]) {
      const r = await callDaemon(d, "POST", "/v1/turns", { text: "x", ...bad }, auth);
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.text).toMatch(/only of dots/);
    }
    expect((await callDaemon(d, "GET", "/v1/turns/%2e%2e/events", undefined, auth)).status).toBe(404);
  });

  it("with --no-token (a warning), browser forgeries are still refused", async () => {
    const d = await daemon([...upstream(), "--no-token"], { OPENCODE_SERVER_PASSWORD: OPENCODE_PASSWORD });
    expect(d.stderr()).toMatch(/"level":40[^\n]*running without a token/);
    const body = JSON.stringify({ text: scenario("text"), trace_id: "forged-nt" });
    expect((await rawRequest(d, "POST", "/v1/turns", { origin: "http://evil.example", "content-type": "text/plain" }, body)).status).toBe(403);
    expect((await rawRequest(d, "POST", "/v1/turns", { "content-type": "text/plain" }, body)).status).toBe(415);
    expect((await callDaemon(d, "GET", "/v1/turns/forged-nt/events", undefined, {})).status).toBe(404);
  });

  it("a fresh serve without flags requires a token: generated once, stored owner-only, printed as how to use it", async () => {
    const stateDir = join(tempStateDir(), "state");
    const d = await daemon([...upstream(), "--state-dir", stateDir], { OPENCODE_SERVER_PASSWORD: OPENCODE_PASSWORD });
    const file = join(stateDir, "token");
    expect(d.stderr()).toContain(`generated a bearer token, stored readable only by you in ${file}`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    const token = readFileSync(file, "utf8").trim();
    expect(d.stderr()).not.toContain(token);
    expect((await callDaemon(d, "GET", "/metrics", undefined, {})).status).toBe(401);
    expect((await callDaemon(d, "GET", "/metrics", undefined, { authorization: `Bearer ${token}` })).status).toBe(200);
    d.child.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    // Started again: the same token, not printed again.
    const again = await daemon([...upstream(), "--state-dir", stateDir], { OPENCODE_SERVER_PASSWORD: OPENCODE_PASSWORD });
    expect(again.stderr()).not.toContain("generated a bearer token");
    expect((await callDaemon(again, "GET", "/metrics", undefined, { authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it("a webhook receiver that never answers, with the daemon collecting garbage constantly: turns end, failures are counted, SIGTERM is bounded", async () => {
    const hook = await hangingReceiver();
    servers.push(hook.server);
    const args = [...upstream(), "--webhook", hook.url, "--webhook-timeout", "0.5", "--webhook-max-attempts", "2", "--webhook-backoff", "0.05"];
    const d = await daemon([...args, "--shutdown-grace", "1", "--close-timeout", "3"], env(), GC_OFTEN);
    const t = await startTurn(d, { text: scenario("text"), trace_id: "hung-hook" });
    expect((await events(d, t.trace_id)).done?.outcome).toBe("final");
    // Each reply's attempts time out (GC or not) and are given up: counted.
    await until(async () => ((metric(await metrics(d), "opencode_bridge_sink_failures_total", '{sink="webhook"}') ?? 0) > 0 ? true : undefined), "counted webhook failures");
    expect(metric(await metrics(d), "opencode_bridge_sink_retries_total", '{sink="webhook"}')).toBeGreaterThan(0);

    // A turn still running and replies still queued for the hung receiver: SIGTERM ends within grace + close timeout.
    await startTurn(d, { text: scenario("stall"), trace_id: "hung-stall" });
    await d.waitForLog(/"trace_id":"hung-stall"[^\n]*"msg":"turn accepted"/);
    const sent = Date.now();
    d.child.kill("SIGTERM");
    const code = await Promise.race([d.exited, new Promise<string>((r) => setTimeout(() => r("still running"), 1_000 + 3_000 + 5_000))]);
    expect(code).toBe(0);
    expect(d.stderr()).toMatch(/"msg":"stopped"/);
    console.info(`SIGTERM to exit with a hung receiver: ${Date.now() - sent} ms (grace 1 s + close timeout 3 s)`);

    // A second signal exits at once, whatever is still waiting.
    const e = await daemon([...args, "--shutdown-grace", "60", "--close-timeout", "60"], env(), GC_OFTEN);
    await startTurn(e, { text: scenario("stall"), trace_id: "second-signal" });
    e.child.kill("SIGTERM");
    await e.waitForLog(/"msg":"shutting down"/);
    e.child.kill("SIGTERM");
    const second = await Promise.race([e.exited, new Promise<string>((r) => setTimeout(() => r("still running"), 5_000))]);
    expect(second).toBe(143);
    expect(e.stderr()).toMatch(/"msg":"exiting now/);
  });

  it("--jsonl to a bad path refuses to start; to a full disk the daemon keeps serving and counts failures", async () => {
    const bad = await serveUntilExit([...upstream(), "--jsonl", "/nonexistent/dir/x.jsonl"], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--jsonl: cannot open /nonexistent/dir/x.jsonl for appending: ENOENT");

    const d = await daemon([...upstream(), "--jsonl", "/dev/full", "--jsonl", "-"], env());
    for (const id of ["full-1", "full-2"]) {
      await startTurn(d, { text: scenario("text"), trace_id: id });
      expect((await events(d, id)).done?.outcome).toBe("final");
    }
    const m = await metrics(d);
    expect(metric(m, "opencode_bridge_sink_failures_total", '{sink="jsonl-1"}')).toBeGreaterThan(0);
    expect(metric(m, "opencode_bridge_sink_delivered_total", '{sink="jsonl-1"}')).toBe(0);
    expect(metric(m, "opencode_bridge_sink_delivered_total", '{sink="jsonl-2"}')).toBeGreaterThan(0);
    expect((await callDaemon(d, "GET", "/healthz", undefined, {})).status).toBe(200);
    expect(d.stderr().match(/cannot be written/g)?.length).toBe(1);
  });

  it("300 subscribers that never read a finished 3 MB turn stay within the documented bound", async () => {
    const d = await daemon([...upstream(), "--max-subscribers-per-turn", "300"], env());
    await startTurn(d, { text: scenario("huge"), trace_id: "huge-turn" });
    expect((await events(d, "huge-turn")).done?.outcome).toBe("final");
    const before = rssBytes(d.child.pid as number);
    let peak = before;
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 300; i++) {
        const s = connect(Number(new URL(d.url).port), "127.0.0.1");
        s.pause();
        s.on("error", () => {});
        s.write(`GET /v1/turns/huge-turn/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
        sockets.push(s);
      }
      // Every one of them is either still connected, waiting, or was cut off at a bound.
      const m = await until(async () => {
        peak = Math.max(peak, rssBytes(d.child.pid as number));
        const text = await metrics(d);
        const cut = ["buffer", "total", "stalled"].reduce((n, reason) => n + (metric(text, "opencode_bridge_event_subscribers_cut_total", `{reason="${reason}"}`) ?? 0), 0);
        return (metric(text, "opencode_bridge_event_subscribers") ?? 0) + cut === 300 ? text : undefined;
      }, "300 subscribers served or cut off");
      peak = Math.max(peak, rssBytes(d.child.pid as number));
      const buffered = metric(m, "opencode_bridge_event_subscriber_buffered_bytes") ?? NaN;
      expect(buffered).toBeLessThanOrEqual(metric(m, "opencode_bridge_limit", '{limit="max_subscriber_bytes_total"}') ?? 0);
      const grown = peak - before;
      console.info(`300 non-reading subscribers of a 3 MB turn: RSS grew at most ${Math.round(grown / 1024 / 1024)} MiB; ${buffered} bytes buffered; metrics:\n${m.split("\n").filter((l) => /event_subscriber/.test(l) && !l.startsWith("#")).join("\n")}`);
      // The documented bound: the shared subscriber budget (64 MiB) plus about 128 KiB per connection.
      expect(grown).toBeLessThan(64 * 1024 * 1024 + 300 * 128 * 1024);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  /** SIGKILLs a daemon once the recorder has `n` replies of the turn; returns the turn. */
  async function killMidTurn(args: string[], recorder: Recorder, text: string, traceId: string, n: number) {
    const first = await daemon(args, env());
    const t = await startTurn(first, { text, trace_id: traceId });
    await recorder.waitFor(() => recorder.replies(traceId).length >= n, 30_000, `${n} replies of the turn`);
    first.child.kill("SIGKILL");
    await first.exited;
    expect(recorder.replies(traceId).some(isTerminal)).toBe(false);
    return t;
  }

  /** What a receiver deduplicating on Idempotency-Key holds: every seq once, one terminal, last; one turn id in every key. */
  function expectWholeTurn(recorder: Recorder, traceId: string): Reply[] {
    const got = recorder.replies(traceId);
    expect(got.map((r) => r.seq)).toEqual(got.map((_, i) => i));
    expect(got.filter(isTerminal)).toHaveLength(1);
    expect(contractViolations(got)).toEqual([]);
    expect(recorder.malformed).toEqual([]);
    expect(new Set(recorder.attempts.filter((a) => a.traceId === traceId).map((a) => a.key.split(":").at(-1))).size).toBe(1);
    return got;
  }

  // Since the journal re-attaches (issue 21): a turn OpenCode still runs is followed again after the
  // restart rather than aborted at once; its model stalls, so the idle timeout ends it and aborts the session.
  it("SIGKILL mid-turn, restart on the same state dir, the turn still running in OpenCode: it is followed again, and as its model stalls it ends timeout with the session aborted; every seq once", async () => {
    const recorder: Recorder = await startRecorder(flakyPlan);
    try {
      const args = [...upstream(), "--state-dir", tempStateDir(), "--webhook", recorder.url, "--webhook-backoff", "0.01", "--idle-timeout", "10"];
      const t = await killMidTurn(args, recorder, scenario("stall"), "killed-stalled", 1);
      const second = await daemon(args, env());
      await recorder.waitFor(() => recorder.replies("killed-stalled").some(isTerminal), 30_000, "the terminal reply after the restart");
      const got = expectWholeTurn(recorder, "killed-stalled");
      expect(got.at(-1)).toMatchObject({ kind: "error", code: "timeout", session_id: t.session_id });
      const http = createDialect({ baseUrl: live.url, directory: live.directory, password: OPENCODE_PASSWORD, requestTimeoutMs: 5_000 });
      await until(async () => ((await http.sessionStatus())[t.session_id] === undefined ? true : undefined), "the stalled session to be aborted");
      const replay = await events(second, "killed-stalled");
      expect(replay.replies).toEqual(got);
      expect(replay.done?.outcome).toBe("timeout");
      // The trace id of a journaled turn is still taken.
      expect((await callDaemon(second, "POST", "/v1/turns", { text: "x", trace_id: "killed-stalled" }, auth)).status).toBe(409);
    } finally {
      await recorder.close();
    }
  });

  it("SIGKILL mid-turn, the turn finishes in OpenCode meanwhile: the restart finishes it from OpenCode's record; every seq once", async () => {
    const recorder: Recorder = await startRecorder(flakyPlan);
    const http = createDialect({ baseUrl: live.url, directory: live.directory, password: OPENCODE_PASSWORD, requestTimeoutMs: 5_000 });
    try {
      const args = [...upstream(), "--state-dir", tempStateDir(), "--webhook", recorder.url, "--webhook-backoff", "0.01"];
      const t = await killMidTurn(args, recorder, scenario("slow"), "killed-slow", 20);
      await until(async () => ((await http.sessionStatus())[t.session_id] === undefined ? true : undefined), "OpenCode to finish the turn");
      const second = await daemon(args, env());
      await recorder.waitFor(() => recorder.replies("killed-slow").some(isTerminal), 30_000, "the terminal reply after the restart");
      const got = expectWholeTurn(recorder, "killed-slow");
      expect(got.at(-1)).toMatchObject({ kind: "final", session_id: t.session_id });
      // The whole answer: all 200 words of the scenario.
      expect((got.at(-1) as { content: string }).content).toMatch(/^w0 w1 [^]*w199 $/);
      const replay = await events(second, "killed-slow");
      expect(replay.replies).toEqual(got);
      expect(replay.done?.outcome).toBe("final");
    } finally {
      await recorder.close();
    }
  });

  it("the death of an owned opencode serve shows in /healthz at once and it is restarted without waiting for a turn", async () => {
    const binary = await ensureOpencode(E2E_VERSION);
    const d = await daemon(["--directory", live.directory], { ...live.project.env, BRIDGE_TOKEN: TOKEN, OPENCODE_BIN: binary });
    try {
      const pid = Number(/"pid":(\d+),"msg":"opencode serve ready"/.exec(d.stderr())?.[1]);
      expect(pid).toBeGreaterThan(0);
      expect((await callDaemon(d, "GET", "/healthz", undefined, {})).status).toBe(200);
      process.kill(pid, "SIGKILL");
      const down = await until(async () => {
        const h = await callDaemon(d, "GET", "/healthz", undefined, {});
        return h.status === 503 ? h : undefined;
      }, "/healthz to say degraded");
      expect(down.json).toMatchObject({ status: "degraded", opencode: { healthy: false } });
      await d.waitForLog(/"msg":"opencode serve died: restarting it now"/);
      await until(async () => ((await callDaemon(d, "GET", "/healthz", undefined, {})).status === 200 ? true : undefined), "a restarted opencode", 60_000);
      expect(metric(await metrics(d), "opencode_bridge_opencode_restarts_total")).toBe(1);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${d.stderr()}`);
    } finally {
      d.child.kill("SIGTERM");
      await d.exited;
    }
  });
});
