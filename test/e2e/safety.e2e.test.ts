/**
 * Safe by default, through the daemon as its users run it (the built CLI's
 * `serve` in a child process) in front of a real `opencode serve`:
 * - a turn's `directory` must be the daemon's project or inside it (or an
 *   `--allow-directory`): `/`, a system directory, or any other tree is refused;
 * - five simultaneous first turns with one new `session_key` share one session;
 * - connections without the token cannot hold the daemon's connections.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenario, startLive, type Live } from "../support/live.js";
import { callDaemon, startDaemon, turnEvents, type Daemon } from "./daemon-process.js";

const TOKEN = "e2e-safety-token-77c1e0a9";
const auth = { authorization: `Bearer ${TOKEN}` };

describe("safe by default", () => {
  let live: Live;
  let daemon: Daemon;
  let other: string;
  beforeAll(async () => {
    live = await startLive({ permission: "allow" });
    other = mkdtempSync(join(tmpdir(), "bridge-allowed-"));
    // Wired to the scripted model like the project, so a turn there can finish.
    copyFileSync(join(live.directory, "opencode.json"), join(other, "opencode.json"));
    daemon = await startDaemon(["--opencode-url", live.url, "--directory", live.directory, "--allow-directory", other], { BRIDGE_TOKEN: TOKEN });
  });
  afterAll(async () => {
    daemon?.child.kill("SIGKILL");
    await daemon?.exited;
    await live?.stop();
    if (other) rmSync(other, { recursive: true, force: true });
  });

  it("a turn's directory: / , /etc, /proc and a directory outside the served ones are refused 403; inside the project or an allowed one runs", async () => {
    const outside = mkdtempSync(join(tmpdir(), "bridge-outside-"));
    try {
      for (const directory of ["/", "/etc", "/proc/self", outside, join(live.directory, "..")]) {
        const r = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("text"), directory }, auth);
        expect(r.status, `${directory}: ${r.text}`).toBe(403);
        expect(String(r.json?.error)).toMatch(/refused|not one this daemon serves/);
        expect(String(r.json?.error)).toContain("--allow-directory");
      }
      const inside = join(live.directory, "sub");
      mkdirSync(inside, { recursive: true });
      for (const [directory, traceId] of [[inside, "safety-inside"], [other, "safety-allowed"]] as const) {
        const r = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("text"), directory, trace_id: traceId }, auth);
        expect(r.status, r.text).toBe(202);
        const { done } = await turnEvents(daemon, traceId, auth);
        expect(done?.outcome).toBe("final");
      }
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("a file part declared image/png whose bytes are not a PNG is refused 400 with a clear error (no 120 s timeout)", async () => {
    const fake = Buffer.from("this is plain text, not a PNG").toString("base64");
    const r = await callDaemon(daemon, "POST", "/v1/turns", { text: "look", parts: [{ type: "file", data: fake, mime: "image/png", filename: "x.png" }] }, auth);
    expect(r.status, r.text).toBe(400);
    expect(String(r.json?.error)).toMatch(/the bytes are not image\/png/);
    const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    const ok = await callDaemon(daemon, "POST", "/v1/turns", { text: scenario("files"), trace_id: "safety-png", parts: [{ type: "file", data: png, mime: "image/png" }] }, auth);
    expect(ok.status, ok.text).toBe(202);
    expect((await turnEvents(daemon, "safety-png", auth)).done?.outcome).toBe("final");
  });

  it("connections without the token cannot starve clients that have it, even when they fill --max-connections", async () => {
    // A daemon of its own, with a house of 200 connections that the attacker fills.
    const small = await startDaemon(["--opencode-url", live.url, "--directory", live.directory, "--max-connections", "200"], { BRIDGE_TOKEN: TOKEN });
    const u = new URL(small.url);
    const sockets: Socket[] = [];
    let closedByDaemon = 0;
    try {
      // 150 idle connections and 50 that send their headers a byte at a time (slowloris).
      for (let i = 0; i < 200; i++) {
        const s = connect(Number(u.port), u.hostname);
        s.on("error", () => {});
        s.on("close", () => closedByDaemon++);
        if (i >= 150) s.once("connect", () => s.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
        sockets.push(s);
      }
      // Past the guests' grace (1 s) the daemon keeps at most 64 of them, oldest closed first, with no new
      // connection needed to notice (a full house admits none).
      const trimmed = Date.now() + 15_000;
      while (closedByDaemon < 200 - 64 && Date.now() < trimmed) await new Promise((r) => setTimeout(r, 50));
      expect(closedByDaemon).toBeGreaterThanOrEqual(200 - 64);
      // A client with the token gets through every time.
      let ok = 0;
      for (let i = 0; i < 20; i++) if ((await callDaemon(small, "GET", "/v1/turns", undefined, { ...auth, connection: "close" })).status === 200) ok++;
      expect(ok).toBe(20);
      // The rest are closed after the guest deadline (10 s), without anyone's help.
      const end = Date.now() + 25_000;
      while (closedByDaemon < 200 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
      expect(closedByDaemon).toBe(200);
      const metrics = await callDaemon(small, "GET", "/metrics", undefined, auth);
      expect(metrics.text).toMatch(/opencode_bridge_guest_connections_closed_total\{reason="crowded"\} \d+/);
      expect(metrics.text).toMatch(/opencode_bridge_guest_connections_closed_total\{reason="deadline"\} \d+/);
    } finally {
      for (const s of sockets) s.destroy();
      small.child.kill("SIGKILL");
      await small.exited;
    }
  }, 90_000);

  it("five simultaneous first turns with one new session_key share one OpenCode session", async () => {
    const key = `safety-key-${Date.now()}`;
    const answers = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => callDaemon(daemon, "POST", "/v1/turns", { text: scenario("text"), session_key: key, trace_id: `safety-keyed-${i}` }, auth)),
    );
    for (const a of answers) expect(a.status, a.text).toBe(202);
    const sessions = new Set(answers.map((a) => a.json?.session_id));
    expect(sessions.size).toBe(1);
    for (let i = 0; i < 5; i++) expect((await turnEvents(daemon, `safety-keyed-${i}`, auth)).done?.outcome).toBe("final");
    // OpenCode holds one session for the key, not five.
    const res = await fetch(`${live.url}/session?directory=${encodeURIComponent(live.directory)}`);
    const all = (await res.json()) as { id: string; title?: string }[];
    expect(all.filter((s) => s.title?.includes(key))).toHaveLength(1);
  });
});
