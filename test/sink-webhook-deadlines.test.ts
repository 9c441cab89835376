import { describe, expect, it } from "vitest";
import { Deadlines } from "../src/sink/webhook-post.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("webhook: the attempts' deadlines on one timer", () => {
  it("fire each at its own deadline, in order, never for an attempt that settled, and again after an idle gap", async () => {
    const d = new Deadlines(80);
    const t0 = performance.now();
    const fired: [string, number][] = [];
    const at = (name: string) => () => fired.push([name, performance.now() - t0]);
    // A settles at once (as POSTs answered in time do), B and C hang, D settles late but in time.
    d.add(at("A"))();
    d.add(at("B"));
    await sleep(30);
    d.add(at("C"));
    const undoD = d.add(at("D"));
    await sleep(40);
    undoD();
    await sleep(120);
    expect(fired.map(([n]) => n)).toEqual(["B", "C"]);
    // Node's own timers may fire up to a millisecond early (whole-millisecond clock); never much later here.
    expect(fired[0]![1]).toBeGreaterThanOrEqual(79);
    expect(fired[1]![1]).toBeGreaterThanOrEqual(30 + 79);
    // After the set went empty and the timer lapsed, a new deadline arms it again.
    const t1 = performance.now();
    let late = -1;
    d.add(() => (late = performance.now() - t1));
    await sleep(150);
    expect(late).toBeGreaterThanOrEqual(79);
  });

  it("a deadline added while the timer waits for an earlier, settled one still fires at its own time, not the earlier one's", async () => {
    const d = new Deadlines(400);
    const undo = d.add(() => {
      throw new Error("settled: must not fire");
    });
    await sleep(200);
    undo();
    const t = performance.now();
    let when = -1;
    d.add(() => (when = performance.now() - t));
    await sleep(250);
    // The timer armed for the first deadline fired at ~400 ms (250 ms ago at most): nothing was due then.
    expect(when).toBe(-1);
    await sleep(250);
    expect(when).toBeGreaterThanOrEqual(399);
  });

  it("does not keep the process alive while no attempt is in flight", async () => {
    const { spawnSync } = await import("node:child_process");
    const src = new URL("../src/sink/webhook-post.ts", import.meta.url).pathname;
    // An attempt settled at once: its 60 s deadline must not hold a one-shot process for 60 s.
    const code = `import { Deadlines } from ${JSON.stringify(src)}; const d = new Deadlines(60_000); d.add(() => {})(); console.log("added");`;
    const started = performance.now();
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { encoding: "utf8", timeout: 20_000 });
    expect(r.stdout).toContain("added");
    expect(r.status).toBe(0);
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});
