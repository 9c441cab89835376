/**
 * Soak: 200 turns of mixed scenarios against a real `opencode serve`, two
 * sessions at a time, with the event stream cut through a TCP proxy every few
 * turns and a flaky, sometimes slow sink. Reports turns, drops injected, replies
 * lost, duplicates, RSS and open handles at the start and the end (written to
 * bench/results/soak.json), and holds lost = duplicates = 0 and flat handles.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpencodeAdapter } from "../../src/adapter/adapter.js";
import type { Reply } from "../../src/codec/reply.js";
import { prng } from "../support/fixtures.js";
import { scenario, startLive, type Live } from "../support/live.js";
import { afterMatches, startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { checkTurnAgainstServer } from "../support/check.js";

const TURNS = Number(process.env.SOAK_TURNS ?? 200);
const MIX = ["text", "tool", "two-tools", "reasoning", "tool-error", "text", "tool", "provider-error", "non-ascii", "slow"];

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const handles = () => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;

describe("soak", () => {
  let live: Live;
  let proxy: TcpProxy;
  beforeAll(async () => {
    live = await startLive({ permission: "allow" });
    proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(live.url).port) });
  });
  afterAll(async () => {
    await proxy?.close();
    await live?.stop();
  });

  it(`${TURNS} turns with drops and a flaky sink: nothing lost, nothing twice, flat handles`, { timeout: 600_000 }, async () => {
    const rnd = prng(2026);
    const byTrace = new Map<string, Reply[]>();
    let sinkThrows = 0;
    const sink = async (r: Reply) => {
      const list = byTrace.get(r.trace_id) ?? [];
      list.push(r);
      byTrace.set(r.trace_id, list);
      const x = rnd();
      if (x < 0.03) {
        sinkThrows++;
        throw new Error("recorder hiccup");
      }
      if (x < 0.06) await new Promise((res) => setTimeout(res, 2));
    };
    const config = {
      baseUrl: proxy.url,
      directory: live.directory,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200, growFactor: 2, maxAttempts: 10 },
    };
    // Warm up once so start-of-run figures do not count OpenCode's first-prompt start-up.
    const warm = new OpencodeAdapter(config, () => {});
    await warm.prompt(scenario("text"));
    await warm.close();
    gc();
    const start = { rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed, handles: handles() };

    const lanes = [new OpencodeAdapter(config, sink), new OpencodeAdapter(config, sink)];
    let drops = 0;
    let lost = 0;
    let duplicates = 0;
    const failures: string[] = [];
    const started = Date.now();
    for (let i = 0; i < TURNS; i += 2) {
      if (i % 6 === 0) {
        // Cut the shared stream a few frames into the next turns.
        proxy.armCut(afterMatches("data: ", 3 + Math.floor(rnd() * 40), rnd() < 0.5 ? "mid" : "before"));
      }
      const cutsBefore = proxy.cuts;
      const results = await Promise.all(
        lanes.map((a, lane) => {
          const name = MIX[(i + lane) % MIX.length] ?? "text";
          return a.prompt(scenario(name), { traceId: `soak-${i + lane}` });
        }),
      );
      drops += proxy.cuts - cutsBefore;
      for (const r of results) {
        const replies = byTrace.get(r.traceId) ?? [];
        const seqs = new Set(replies.map((x) => x.seq));
        const calls = replies.filter((x) => x.kind === "tool_call").map((x) => (x as { call_id: string }).call_id);
        if (seqs.size !== replies.length || new Set(calls).size !== calls.length) duplicates++;
        const problems = await checkTurnAgainstServer(live, replies);
        if (problems.length > 0) {
          lost++;
          failures.push(`${r.traceId}: ${problems.join("; ")}`);
        }
        byTrace.delete(r.traceId);
      }
    }
    await Promise.all(lanes.map((a) => a.close()));
    // Idle keep-alive sockets of the HTTP pool close after undici's keep-alive timeout (4 s).
    for (let waited = 0; handles() > start.handles && waited < 8_000; waited += 200) {
      await new Promise((r) => setTimeout(r, 200));
    }
    gc();
    const end = { rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed, handles: handles() };
    const report = {
      turns: TURNS,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      drops_injected: drops,
      sink_throws: sinkThrows,
      turns_with_lost_replies: lost,
      turns_with_duplicates: duplicates,
      rss_mb: { start: mb(start.rss), end: mb(end.rss) },
      heap_mb: { start: mb(start.heap), end: mb(end.heap) },
      open_handles: { start: start.handles, end: end.handles },
      stream_reconnects: lanes[0]?.streamStats.reconnects,
    };
    const dir = join(import.meta.dirname, "..", "..", "bench", "results");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "soak.json"), `${JSON.stringify(report, null, 2)}\n`);
    console.log(`soak: ${JSON.stringify(report)}`);
    expect(failures).toEqual([]);
    expect(lost).toBe(0);
    expect(duplicates).toBe(0);
    expect(drops).toBeGreaterThanOrEqual(TURNS / 10);
    expect(end.handles).toBeLessThanOrEqual(start.handles);
    // Nothing of the finished turns is kept: the heap after a collection stays near where it began.
    if (globalThis.gc) expect(end.heap - start.heap).toBeLessThan(16 * 1024 * 1024);
  });
});
