/**
 * An idle adapter holds no socket: the shared event stream is closed quietly
 * (no gap, no reconnect) once its last turn has been gone for a second, and the
 * next turn opens it again. With an injected clock and the replay stand-in.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { OpencodeAdapter } from "../src/adapter/adapter.js";
import { openHolds } from "../src/adapter/keep-alive.js";
import { MemorySink } from "../src/sink/memory.js";
import { loadFixtures } from "./support/fixtures.js";
import { framesOf, ManualClock, startReplayServer, type ReplayServer } from "./support/replay-server.js";

const text = loadFixtures().find((f) => f.name === "1.18.33/text");
if (!text) throw new Error("no fixture 1.18.33/text");
const turn = () => ({ sessionId: text.golden[0]?.session_id ?? "", frames: framesOf(text.sse) });

let srv: ReplayServer | undefined;
afterEach(async () => {
  await srv?.close();
});

describe("the event stream of an idle adapter", () => {
  it("is closed 1 s after the last turn ended, quietly, and reopened by the next turn", async () => {
    srv = await startReplayServer([turn(), turn()]);
    const clock = new ManualClock();
    const sink = new MemorySink();
    const adapter = new OpencodeAdapter({ baseUrl: srv.url, directory: "/tmp/p", clock, watchdogMs: 10_000_000 }, sink);
    const holdsBefore = openHolds();
    const first = adapter.prompt("one", { traceId: "one" });
    expect(openHolds()).toBe(holdsBefore + 1); // the turn holds the process from prompt() on
    expect((await first).status).toBe("final");
    expect(openHolds()).toBe(holdsBefore);
    expect(srv.streams.size).toBe(1);
    clock.advance(999);
    expect(srv.streams.size).toBe(1);
    clock.advance(1);
    await vi.waitFor(() => expect(srv?.streams.size).toBe(0));
    // Not a drop: nothing reconnects, nobody was told of a gap.
    expect(adapter.streamStats).toMatchObject({ connects: 1, drops: 0, reconnects: 0 });
    expect((await adapter.prompt("two", { traceId: "two" })).status).toBe("final");
    expect(adapter.streamStats).toMatchObject({ connects: 2, drops: 0, reconnects: 0 });
    expect(sink.turn("two").map((r) => r.kind)).toEqual(text.golden.map((r) => r.kind));
    await adapter.close();
  });

  it("stays open when the next turn starts within the second", async () => {
    srv = await startReplayServer([turn(), turn()]);
    const clock = new ManualClock();
    const adapter = new OpencodeAdapter({ baseUrl: srv.url, directory: "/tmp/p", clock, watchdogMs: 10_000_000 }, () => {});
    expect((await adapter.prompt("one")).status).toBe("final");
    clock.advance(500);
    const second = adapter.prompt("two");
    await vi.waitFor(() => expect(srv?.requests.filter((r) => r.path.includes("prompt_async")).length).toBe(2));
    clock.advance(5_000);
    expect((await second).status).toBe("final");
    expect(adapter.streamStats).toMatchObject({ connects: 1, drops: 0 });
    await adapter.close();
  });
});
