/**
 * The daemon's outputs, each at its own pace (src/sink/fanout.ts lanes), run as
 * users run it: `serve` in a child process, OpenCode replayed by the fixture
 * stand-in, a webhook receiver that stalls, and a JSON Lines file.
 *
 * The `long` turn has 1,201 replies, more than the 1,000 the webhook holds per
 * turn: before the outputs had a lane each, the stalled webhook's bound stopped
 * the JSON Lines output at about 1,000 lines until the receiver came back.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Reply } from "../../src/codec/reply.js";
import { fixtureNamed, scriptedTurnOf, startReplayServer, type ReplayServer } from "../support/replay-server.js";
import { startBatchReceiver, type BatchReceiver } from "../support/batch-receiver.js";
import { callDaemon, startDaemon, turnEvents, type Daemon } from "./daemon-process.js";

const TOKEN = "outputs-bridge-token-5e6f7a8b9c";
const auth = { authorization: `Bearer ${TOKEN}` };

/** Polls `probe` until true; fails after `timeoutMs` naming `what`. */
async function until(probe: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("daemon outputs: JSON Lines keeps pace while the webhook stalls", () => {
  let daemon: Daemon | undefined;
  let upstream: ReplayServer | undefined;
  const held: ServerResponse[] = [];
  let stalled = true;
  const received: Reply[] = [];
  const receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.setEncoding("utf8").on("data", (c: string) => (body += c));
    req.on("end", () => {
      if (stalled) return void held.push(res);
      received.push(JSON.parse(body) as Reply);
      res.writeHead(204).end();
    });
  });
  const dir = mkdtempSync(join(tmpdir(), "bridge-outputs-"));
  const jsonl = join(dir, "replies.jsonl");
  const lines = () => {
    try {
      return readFileSync(jsonl, "utf8").split("\n").filter((l) => l !== "");
    } catch {
      return [];
    }
  };

  afterAll(async () => {
    if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
      daemon.child.kill("SIGKILL");
      await daemon.exited;
    }
    for (const res of held) res.destroy();
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every reply is in the JSON Lines file while the webhook has not acknowledged one; then the webhook gets them all, in order", async () => {
    const golden = fixtureNamed("1.18.33/long").golden;
    expect(golden.length).toBeGreaterThan(1_000);
    upstream = await startReplayServer([scriptedTurnOf("1.18.33/long")]);
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    // The stalled receiver's requests end only when released: the attempt deadline is far away.
    daemon = await startDaemon(
      ["--opencode-url", upstream.url, "--directory", dir, "--webhook", hook, "--webhook-timeout", "120", "--jsonl", jsonl],
      { BRIDGE_TOKEN: TOKEN },
    );
    const r = await callDaemon(daemon, "POST", "/v1/turns", { text: "long", trace_id: "t-long" }, auth);
    expect(r.status, r.text).toBe(202);
    const events = await turnEvents(daemon, "t-long", auth);
    expect(events.done?.outcome).toBe("final");
    expect(events.replies).toHaveLength(golden.length);

    await until(() => lines().length >= golden.length, `${golden.length} JSON lines (have ${lines().length})`);
    const written = lines().map((l) => JSON.parse(l) as Reply);
    expect(written.map((x) => x.seq)).toEqual(golden.map((_, i) => i));
    // Meanwhile the webhook sent its first reply and waits for the answer.
    expect(held).toHaveLength(1);
    expect(received).toHaveLength(0);

    stalled = false;
    for (const res of held.splice(0)) res.writeHead(204).end();
    await until(() => received.length >= golden.length - 1, `the webhook's replies (have ${received.length})`);
    // The first (held, then answered) is not recorded; the rest arrive after it, in order.
    expect(received.map((x) => x.seq)).toEqual(golden.slice(1).map((_, i) => i + 1));
    const m = await callDaemon(daemon, "GET", "/metrics", undefined, auth);
    expect(m.text).toMatch(/opencode_bridge_sink_failures_total\{sink="webhook"\} 0/);
    expect(m.text).toMatch(/opencode_bridge_sink_failures_total\{sink="jsonl"\} 0/);

    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
  });
});

describe("daemon outputs: serve --webhook-batch", () => {
  let daemon: Daemon | undefined;
  let upstream: ReplayServer | undefined;
  let receiver: BatchReceiver | undefined;
  afterAll(async () => {
    if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
      daemon.child.kill("SIGKILL");
      await daemon.exited;
    }
    await receiver?.close();
    await upstream?.close();
  });

  it("two turns reach a receiver that loses every third acknowledgement: each reply once, in order, in batches", async () => {
    const names = ["1.18.33/long", "1.18.33/tool"];
    upstream = await startReplayServer(names.map((n) => scriptedTurnOf(n)));
    receiver = await startBatchReceiver({ failEvery: 3 });
    const dir = mkdtempSync(join(tmpdir(), "bridge-batch-"));
    daemon = await startDaemon(["--opencode-url", upstream.url, "--directory", dir, "--webhook", receiver.url, "--webhook-batch", "--webhook-backoff", "0.01"], {
      BRIDGE_TOKEN: TOKEN,
    });
    const d = daemon;
    const turns = await Promise.all(
      names.map(async (_, i) => {
        const r = await callDaemon(d, "POST", "/v1/turns", { text: "hi", trace_id: `t-batch-${i}` }, auth);
        expect(r.status, r.text).toBe(202);
        return turnEvents(d, `t-batch-${i}`, auth);
      }),
    );
    const rx = receiver;
    const want = turns.reduce((a, t) => a + t.replies.length, 0);
    await until(() => [...rx.turns.values()].reduce((a, l) => a + l.length, 0) >= want, `${want} replies at the receiver`);
    expect(rx.problems).toEqual([]);
    turns.forEach((t, i) => expect(rx.turns.get(`t-batch-${i}`)).toEqual(t.replies));
    expect(rx.posts.filter((p) => !p.repeat).length).toBeLessThan(want / 2);
    expect(rx.posts.some((p) => p.repeat)).toBe(true);
    const m = await callDaemon(d, "GET", "/metrics", undefined, auth);
    expect(m.text).toMatch(/opencode_bridge_sink_failures_total\{sink="webhook"\} 0/);
    expect(m.text).toMatch(new RegExp(`opencode_bridge_sink_delivered_total\\{sink="webhook"\\} ${want}`));
    d.child.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
