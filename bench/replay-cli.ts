/**
 * `opencode-bridge replay` of a very long recorded stream, as a user runs it,
 * against the file floor on the same file in the same run.
 *
 *   npm run bench:replay-cli [-- --events N --rounds R]   (writes bench/results/replay-cli.json)
 *
 * The stream (bench/lib/long-file.ts): the real 1.15.13 long turn with its delta
 * records repeated to `events` events (1,000,000: 253 MB), written to a temporary
 * file at bench time and removed after.
 *
 * floor:  `node bench/lib/file-floor.mjs FILE` — read the file, eventsource-parser
 *         and JSON.parse of every frame, nothing else;
 * bridge: the package as a user installs it: `npm pack` of this checkout, installed
 *         into a fresh project in a temporary directory (`npm install <tarball>`, from
 *         npm's cache when it has the dependencies), run through its `bin`
 *         (`node <project>/node_modules/opencode-bridge/bin/opencode-bridge.js replay FILE`,
 *         what `npx opencode-bridge` starts); its JSON Lines read from a pipe by this
 *         process (lines counted, the last one checked). `--from-dist`: the built
 *         `dist/cli/main.js` of this checkout instead (no install).
 * Each is a fresh process, timed from spawn to exit (both pay Node's start-up);
 * peak RSS is read in the child at exit (bench/lib/max-rss.mjs). Rounds alternate
 * which goes first; medians count, the ratio is the median of per-round ratios.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureBuilt, ROOT } from "./lib/build.js";
import { writeLongFile } from "./lib/long-file.js";
import { int, median, mb, round, writeResult } from "./lib/stats.js";

const CLI = join(ROOT, "dist", "cli", "main.js");
const { values } = parseArgs({
  options: { events: { type: "string" }, rounds: { type: "string" }, "from-dist": { type: "boolean" } },
});
const EVENTS = Number(values.events ?? process.env.BENCH_REPLAY_EVENTS ?? 1_000_000);
const ROUNDS = Number(values.rounds ?? process.env.BENCH_REPLAY_ROUNDS ?? 3);
const TARGET_RATIO = 0.7;
const TARGET_RSS_MB = 150;

interface Run {
  readonly seconds: number;
  readonly maxRssBytes: number;
  readonly stdoutBytes: number;
  readonly lines: number;
  readonly lastLine: string;
  readonly code: number | null;
  readonly stderr: string;
}

function measure(args: string[], dir: string): Promise<Run> {
  const rssFile = join(dir, `rss-${process.hrtime.bigint()}`);
  const t0 = performance.now();
  const child = spawn(process.execPath, ["--import", join(import.meta.dirname, "lib", "max-rss.mjs"), ...args], {
    env: { ...process.env, BENCH_MAXRSS_FILE: rssFile },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdoutBytes = 0;
  let lines = 0;
  // The last complete line (the terminal reply, as long as the answer) as the chunks it spans; the line in progress.
  let lastLine: Buffer[] = [];
  let pending: Buffer[] = [];
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => {
    stdoutBytes += b.length;
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) lines++;
    const end = b.lastIndexOf(10);
    if (end === -1) {
      pending.push(b);
      return;
    }
    const start = end === 0 ? -1 : b.lastIndexOf(10, end - 1);
    lastLine = start >= 0 ? [b.subarray(start + 1, end)] : [...pending, b.subarray(0, end)];
    pending = [b.subarray(end + 1)];
  });
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      const seconds = (performance.now() - t0) / 1000;
      const maxRssBytes = Number(readFileSync(rssFile, "utf8"));
      resolve({ seconds, maxRssBytes, stdoutBytes, lines, lastLine: Buffer.concat(lastLine).toString("utf8"), code, stderr });
    });
  });
}

/** The packed package installed into a fresh project under `dir`; the path of its executable. */
function installPacked(dir: string): string {
  // npm's notices (the tarball's whole listing) are kept out of the results; a failure throws with them.
  const quiet = { cwd: dir, stdio: ["ignore", "pipe", "pipe"] as ("ignore" | "pipe")[] };
  // The build is fresh (ensureBuilt): prepack's build is skipped.
  execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", dir, ROOT], quiet);
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error(`npm pack left no tarball in ${dir}`);
  const project = join(dir, "project");
  execFileSync("mkdir", [project]);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "bench-host", version: "1.0.0", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(dir, tarball)], { ...quiet, cwd: project });
  return join(project, "node_modules", "opencode-bridge", "bin", "opencode-bridge.js");
}

ensureBuilt();
const dir = mkdtempSync(join(tmpdir(), "opencode-bridge-bench-"));
try {
  const installed = values["from-dist"] === true ? undefined : installPacked(dir);
  const cli = installed ?? CLI;
  console.log(installed ? `bridge: the packed package installed in a fresh project (${installed})` : `bridge: ${CLI} (--from-dist)`);
  const t0 = performance.now();
  const file = await writeLongFile(join(dir, "long.sse"), EVENTS);
  console.log(
    `replay CLI: ${int(file.events)} events, ${mb(file.bytes)} MB (1.15.13 long turn, deltas repeated), written in ${round((performance.now() - t0) / 1000, 1)} s; ${ROUNDS} alternating rounds, node ${process.version}`,
  );
  const floor: Run[] = [];
  const bridge: Run[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const runFloor = () => measure([join(import.meta.dirname, "lib", "file-floor.mjs"), file.path], dir);
    const runBridge = () => measure([cli, "replay", file.path], dir);
    let f: Run;
    let b: Run;
    if (r % 2 === 0) {
      f = await runFloor();
      b = await runBridge();
    } else {
      b = await runBridge();
      f = await runFloor();
    }
    if (f.code !== 0 || Number(f.lastLine) !== file.events) throw new Error(`floor: exit ${f.code}, ${f.lastLine} events: ${f.stderr}`);
    const last = JSON.parse(b.lastLine) as { kind: string };
    if (b.code !== 0 || b.lines !== file.replies || last.kind !== "final") {
      throw new Error(`replay: exit ${b.code}, ${b.lines} lines (expected ${file.replies}), ends ${last.kind}: ${b.stderr.slice(0, 500)}`);
    }
    floor.push(f);
    bridge.push(b);
    ratios.push(f.seconds / b.seconds);
    console.log(
      `  round ${r + 1}: floor ${f.seconds.toFixed(2)} s (${mb(f.maxRssBytes)} MB RSS), replay ${b.seconds.toFixed(2)} s (${mb(b.maxRssBytes)} MB RSS, ${mb(b.stdoutBytes)} MB out), ratio ${(f.seconds / b.seconds).toFixed(2)}`,
    );
  }
  const ratio = median(ratios);
  const rss = Math.max(...bridge.map((b) => b.maxRssBytes));
  const result = {
    node: process.version,
    date: new Date().toISOString(),
    events: file.events,
    bytes: file.bytes,
    replies: file.replies,
    rounds: ROUNDS,
    cli: installed ? "packed package installed in a fresh project" : "dist/cli/main.js",
    floor: { median_s: round(median(floor.map((f) => f.seconds))), max_rss_mb: mb(Math.max(...floor.map((f) => f.maxRssBytes))) },
    replay: {
      median_s: round(median(bridge.map((b) => b.seconds))),
      max_rss_mb: mb(rss),
      stdout_mb: mb(bridge[0]?.stdoutBytes ?? 0),
      events_per_s: Math.round(file.events / median(bridge.map((b) => b.seconds))),
    },
    ratio_replay_over_floor: round(ratio),
    targets: [
      { target: `replay >= ${TARGET_RATIO} x file floor`, value: round(ratio), pass: ratio >= TARGET_RATIO },
      { target: `replay RSS < ${TARGET_RSS_MB} MB`, value: mb(rss), pass: mb(rss) < TARGET_RSS_MB },
    ],
  };
  console.log(
    `floor ${result.floor.median_s} s (${result.floor.max_rss_mb} MB RSS)   replay ${result.replay.median_s} s (${result.replay.max_rss_mb} MB RSS, ${int(result.replay.events_per_s)} events/s)   replay/floor ${ratio.toFixed(2)}`,
  );
  for (const t of result.targets) console.log(`${t.pass ? "PASS" : "MISS"}  ${t.target}: ${t.value}`);
  writeResult("replay-cli.json", result);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
