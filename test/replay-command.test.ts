/**
 * Streaming replay (src/codec/replay.ts) and the `replay` command (src/cli/replay.ts).
 * In-process where the process boundary is not the point; spawned for stdin, EPIPE
 * under a real `| head -1`, and the exit status of a bad option value.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { replay, replayStream, replaySync, TurnReplayer } from "../src/codec/replay.js";
import type { Reply } from "../src/codec/reply.js";
import { PrettySink } from "../src/cli/pretty.js";
import { escapeControls, runReplay, type ReplayIo } from "../src/cli/replay.js";
import { UsageError } from "../src/cli/usage.js";
import { FIXTURES, loadFixtures } from "./support/fixtures.js";

const ROOT = join(import.meta.dirname, "..");
// The executable as a clone runs it (bin/ runs the sources through tsx): no build needed.
const CLI = join(ROOT, "bin", "opencode-bridge.js");
const fixtures = loadFixtures();
const fx = (name: string) => {
  const f = fixtures.find((x) => x.name === name);
  if (!f) throw new Error(`no fixture ${name}`);
  return f;
};
const file = (name: string) => join(FIXTURES, `${name}.sse`);
const tmp = mkdtempSync(join(tmpdir(), "replay-command-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

class Collect extends Writable {
  text = "";
  constructor(opts: ConstructorParameters<typeof Writable>[0] = {}) {
    super({ decodeStrings: false, ...opts });
  }
  override _write(chunk: string | Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function run(args: string[], stdin: Readable = Readable.from([])) {
  const io: ReplayIo & { stdout: Collect; stderr: Collect } = { stdin, stdout: new Collect(), stderr: new Collect() };
  const code = await runReplay(args, io);
  return { code, stdout: io.stdout.text, stderr: io.stderr.text };
}

/** Chunks of `buf` split at pseudo-random offsets (a fixed seed: the same split every run). */
function randomChunks(buf: Buffer, seed: number): Buffer[] {
  const out: Buffer[] = [];
  let s = seed;
  for (let i = 0; i < buf.length; ) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (s % 700);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

describe("streaming replay (library)", () => {
  it.each(fixtures.map((f) => [f.name, f] as const))("%s: replay of chunks and replayStream give the collecting form's replies", async (_n, f) => {
    const traceId = `trace-${f.scenario}`;
    const collected = replaySync([f.sse], { traceId }).replies;
    expect(collected).toEqual(f.golden);
    expect((await replay(randomChunks(f.sse, f.sse.length), { traceId })).replies).toEqual(collected);
    const each: Reply[] = [];
    const streamed: Reply[] = [];
    const it = replayStream(Readable.from(randomChunks(f.sse, 7)), { traceId, onReply: (r) => each.push(r) });
    let next = await it.next();
    while (!next.done) {
      streamed.push(next.value);
      next = await it.next();
    }
    expect(streamed).toEqual(collected);
    expect(each).toEqual(collected);
    expect(next.value.replies).toBe(collected.length);
    expect(next.value.terminal).toEqual(collected[collected.length - 1]);
  });

  it("keeps no reply or issue when not retaining", () => {
    const f = fx("1.18.33/long");
    const garbage = Buffer.from('data: {"type":"message.part.delta", not json\n\n');
    let seen = 0;
    const r = new TurnReplayer({ retain: false, onReply: () => seen++ });
    r.push(garbage);
    r.push(f.sse);
    const s = r.endSummary();
    expect(r.replies).toEqual([]);
    expect(r.issues).toEqual([]);
    expect(s.issues).toBe(1);
    expect(seen).toBe(f.golden.length);
    expect(s.replies).toBe(f.golden.length);
    expect(s.terminal.kind).toBe("final");
  });
});

describe("replay command (in-process)", () => {
  it.each(fixtures.map((f) => [f.name, f] as const))("%s: JSON Lines byte-identical to the golden file", async (_n, f) => {
    const r = await run([file(f.name), "--trace-id", `trace-${f.scenario}`]);
    expect(r.stdout).toBe(readFileSync(join(FIXTURES, `${f.name}.jsonl`), "utf8"));
    expect(r.code).toBe(f.golden[f.golden.length - 1]?.kind === "final" ? 0 : 1);
  });

  it("- reads stdin, split anywhere", async () => {
    const f = fx("1.15.13/two-tools");
    const r = await run(["-", "--trace-id", "trace-two-tools"], Readable.from(randomChunks(f.sse, 3)));
    expect(r.stdout).toBe(readFileSync(join(FIXTURES, "1.15.13/two-tools.jsonl"), "utf8"));
    expect(r.code).toBe(0);
  });

  it("--pretty is the prompt command's view of the same replies", async () => {
    for (const name of ["1.18.33/tool", "1.18.33/reasoning", "1.15.13/provider-error"]) {
      const f = fx(name);
      const expected = new Collect();
      const view = new PrettySink(expected, false);
      for (const r of replaySync([f.sse]).replies) view.deliver(r);
      const r = await run([file(name), "--pretty"]);
      expect(r.stdout).toBe(expected.text);
      expect(r.stdout).not.toContain('"kind"');
    }
  });

  it("--list-sessions lists each session with its first prompt", async () => {
    const r = await run([file("1.18.33/interleaved"), "--list-sessions"]);
    expect(r.code).toBe(0);
    const sessions = Object.keys(fx("1.18.33/interleaved").record);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.map((l) => l.split(" ")[0]).sort()).toEqual([...sessions].sort());
    expect(r.stdout).toContain("[scenario:slow] Please run the slow scenario.");
    expect(r.stdout).toContain("[scenario:two-tools] Please run the two-tools scenario.");
    const sub = await run([file("1.2.27/subagent"), "--list-sessions"]);
    const [parent, child] = sub.stdout.trimEnd().split("\n");
    expect(parent).toContain("[scenario:subagent]");
    expect(child).toContain(`(subagent of ${parent?.split(" ")[0]})`);
  });

  it("refuses what is not a recorded stream, in one line, exit 2", async () => {
    const empty = join(tmp, "empty.sse");
    writeFileSync(empty, "");
    const cases: [string[], RegExp][] = [
      [[join(FIXTURES, "1.18.33")], /1\.18\.33 is a directory; replay reads a recorded \/event stream/],
      [[join(tmp, "nope.sse")], /no such file: .*nope\.sse/],
      [[empty], /empty\.sse is empty/],
      [[join(FIXTURES, "1.18.33/text.jsonl")], /text\.jsonl is JSON Lines \(replies\?\), not a recorded \/event stream/],
      [[join(FIXTURES, "1.18.33/text.messages.json")], /is not a recorded \/event stream \(SSE\): its first line is \{/],
      [[file("1.18.33/interleaved"), "--session", "ses_missing"], /session ses_missing is not in .*interleaved\.sse \(see replay --list-sessions/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    }
    const stdinEmpty = await run(["-"], Readable.from([]));
    expect(stdinEmpty).toMatchObject({ code: 2, stderr: "opencode-bridge replay: stdin is empty: replay reads a recorded OpenCode /event stream\n" });
  });

  it("escapes control characters from input in diagnostics", async () => {
    const evil = join(tmp, "evil\u001b[31m.sse");
    writeFileSync(evil, `data: {"type":"x\u001b]0;pwned\u0007"}\n\n${readFileSync(file("1.18.33/text"), "utf8")}`);
    const r = await run([evil, "--session", "ses_\u001b[2J"]);
    expect(r.code).toBe(2);
    // eslint-disable-next-line no-control-regex -- the assertion is about control characters
    expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(r.stderr).toContain("\\u001b[31m.sse");
    expect(r.stderr).toContain("ses_\\u001b[2J");
    expect(r.stderr).toContain("invalid_json");
    expect(escapeControls("a\u0085b\u2028c\td")).toBe("a\\u0085b\\u2028c\\td");
  });

  it("bad option values are usage errors", async () => {
    const bad: string[][] = [
      ["--max-frame-bytes", "abc"],
      ["--max-frame-bytes", "0"],
      ["--max-frame-bytes", "-5"],
      ["--max-frame-bytes", "1.5"],
      ["--session", ""],
      ["--trace-id", " "],
      ["--pretty", "--jsonl"],
      ["--list-sessions", "--session", "ses_x"],
      ["--bogus"],
    ];
    for (const extra of bad) await expect(run([file("1.18.33/text"), ...extra]), extra.join(" ")).rejects.toThrow();
    await expect(run([file("1.18.33/text"), "--max-frame-bytes", "abc"])).rejects.toBeInstanceOf(UsageError);
    await expect(run([])).rejects.toBeInstanceOf(UsageError);
    await expect(run(["a.sse", "b.sse"])).rejects.toBeInstanceOf(UsageError);
    // --max-frame-bytes is honoured: a cap below the long turn's closing frame ends it `protocol`
    const capped = await run([file("1.18.33/text"), "--max-frame-bytes", "100"]);
    expect(capped.stderr).toContain("frame_too_large");
    expect(capped.code).toBe(1);
  });

  it("reads no further input while stdout has not drained (backpressure)", async () => {
    const f = fx("1.18.33/long");
    const chunks = randomChunks(f.sse, 11).map((c) => Buffer.from(c));
    let pulled = 0;
    const stdin = new Readable({
      highWaterMark: 1,
      read() {
        this.push(pulled < chunks.length ? chunks[pulled++] : null);
      },
    });
    const held: (() => void)[] = [];
    let written = "";
    const stdout = new Writable({
      highWaterMark: 1024,
      decodeStrings: false,
      write(chunk: string, _enc, cb) {
        written += chunk;
        held.push(cb);
      },
    });
    const done = runReplay([ "-" ], { stdin, stdout, stderr: new Collect() });
    // Let the replay run until it waits for stdout: it must have stopped reading well before the end.
    for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
    expect(held.length).toBe(1);
    expect(pulled).toBeLessThan(chunks.length / 2);
    const stalledAt = pulled;
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
    expect(pulled).toBe(stalledAt);
    // Release writes as they come until the end.
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished) {
      held.splice(0).forEach((cb) => cb());
      await new Promise<void>((r) => setImmediate(r));
    }
    expect(await done).toBe(0);
    expect(written).toBe(replaySync([f.sse]).replies.map((r) => `${JSON.stringify(r)}\n`).join(""));
  });
});

describe("replay command (spawned)", () => {
  it("- reads a real stdin", () => {
    const r = spawnSync(process.execPath, [CLI, "replay", "-", "--trace-id", "trace-tool"], {
      input: readFileSync(file("1.2.27/tool")),
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(r.stdout).toBe(readFileSync(join(FIXTURES, "1.2.27/tool.jsonl"), "utf8"));
    expect(r.status).toBe(0);
  });

  it("`| head -1` ends quietly with the turn's status", () => {
    const big = join(tmp, "long-x8.sse");
    // 8 copies of the long turn in one stream: the first is replayed, ~1 MB of replies follows the first line.
    writeFileSync(big, readFileSync(file("1.18.33/long"), "utf8").repeat(8));
    for (const [input, status] of [
      [big, 0],
      [file("1.15.13/abort"), 1],
    ] as const) {
      const r = spawnSync("bash", ["-c", 'set -o pipefail; "$0" "$1" replay "$2" | head -1; echo "status=$?" >&2', process.execPath, CLI, input], {
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(r.stdout.split("\n").filter((l) => l !== "")).toHaveLength(1);
      expect(r.stderr).toBe(`status=${status}\n`);
    }
  });

  it("a reader that closes the pipe mid-stream gets no stack trace", async () => {
    const big = join(tmp, "long-x8b.sse");
    writeFileSync(big, readFileSync(file("1.18.33/long"), "utf8").repeat(8));
    const child = spawn(process.execPath, [CLI, "replay", big], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.stdout.once("data", () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("a bad option value exits 2", () => {
    const r = spawnSync(process.execPath, [CLI, "replay", file("1.18.33/text"), "--max-frame-bytes", "lots"], { encoding: "utf8", timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--max-frame-bytes takes a whole number of bytes greater than 0, got "lots"');
    expect(r.stdout).toBe("");
  });
});
