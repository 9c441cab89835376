/**
 * The `opencode-bridge` command, in-process through `main(argv, io)` (output,
 * environment, working directory and signals injected); no build needed. The
 * built executable as a real process: test/cli-process.test.ts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/cli.js";
import { type CliIo, onInterrupt } from "../src/cli/io.js";
import { COMMANDS } from "../src/cli/help.js";
import { FIXTURES, loadFixtures } from "./support/fixtures.js";
import { scriptedTurnOf, startReplayServer } from "./support/replay-server.js";

const ROOT = join(import.meta.dirname, "..");
const scratch = mkdtempSync(join(tmpdir(), "cli-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void) {
    this.text += chunk.toString();
    this.onText?.(this.text);
    cb();
  }
  onText?: (text: string) => void;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** An io whose signals the test fires itself. */
function fakeIo(env: Record<string, string | undefined> = {}, cwd = ROOT) {
  const stdout = new Capture();
  const stderr = new Capture();
  const handlers = new Set<(s: NodeJS.Signals) => void>();
  const exits: number[] = [];
  const io: CliIo = {
    stdout,
    stderr,
    // Never the developer's own cache, state or server: an empty cache unless a test gives one.
    env: { PATH: process.env.PATH, HOME: scratch, XDG_STATE_HOME: join(scratch, "state"), OPENCODE_BRIDGE_CACHE: join(scratch, "no-cache"), ...env },
    cwd,
    onSignal(_signals, handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    exit: (code) => exits.push(code),
  };
  return { io, stdout, stderr, exits, signal: (s: NodeJS.Signals) => [...handlers].forEach((h) => h(s)) };
}

async function run(argv: string[], env?: Record<string, string | undefined>, cwd?: string): Promise<Run> {
  const f = fakeIo(env, cwd);
  const code = await main(argv, f.io);
  return { code, stdout: f.stdout.text, stderr: f.stderr.text };
}

const lines = (s: string) => s.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);

/** A usage error: exit 2, nothing on stdout, one line in our words and the pointer to the command's help. */
function expectUsage(r: Run, command: string | undefined, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe("");
  const [first, second, ...more] = r.stderr.split("\n");
  expect(first).toMatch(/^opencode-bridge: /);
  expect(first).toMatch(pattern);
  expect(second).toBe(`see \`opencode-bridge ${command === undefined ? "" : `${command} `}--help\``);
  expect(more.join("")).toBe("");
  // Node's parser text never leaks through.
  expect(r.stderr).not.toMatch(/To specify|positional|ERR_PARSE_ARGS|at .*\.js:\d+/);
}

describe("help", () => {
  it("each command has its own help, on stdout, exit 0", async () => {
    for (const c of COMMANDS) {
      for (const argv of [[c, "--help"], [c, "-h"], ["help", c], [c, "--bogus", "--help"]]) {
        const r = await run(argv);
        expect(r.code, argv.join(" ")).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^usage: opencode-bridge ${c}\\b`));
        expect(r.stderr).toBe("");
      }
    }
    const prompt = (await run(["prompt", "--help"])).stdout;
    expect(prompt).toContain("--scripted");
    expect(prompt).not.toContain("--webhook"); // serve's, not prompt's
    const serve = (await run(["serve", "--help"])).stdout;
    for (const flag of ["--tool-timeout S", "--no-verify"]) {
      expect(prompt).toContain(flag);
      expect(serve).toContain(flag);
    }
    expect((await run(["scripted-model", "--help"])).stdout).toMatch(/^\s+provider-error\s+the provider answers HTTP 401/m);
  });

  it("the overview lists every command; no command is a usage error with the overview", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("opencode-bridge <command> --help");
  });

  it("--help after -- is prompt text, not a request for help", async () => {
    const r = await run(["prompt", "--url", "not a url", "--", "--help"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
  });
});

describe("usage errors", () => {
  it("unknown commands and options, missing values, stray arguments", async () => {
    expectUsage(await run(["frobnicate"]), undefined, /unknown command "frobnicate"/);
    expectUsage(await run(["help", "frobnicate"]), undefined, /no command frobnicate/);
    expectUsage(await run(["replay", "--bogus", "x.sse"]), "replay", /replay has no option --bogus/);
    expectUsage(await run(["prompt", "--bogus", "x"]), "prompt", /prompt has no option --bogus/);
    expectUsage(await run(["prompt", "-x", "hi"]), "prompt", /prompt has no option -x/);
    expectUsage(await run(["prompt", "hi", "--url"]), "prompt", /--url needs a value$/);
    expectUsage(await run(["prompt", "--url", "--jsonl", "hi"]), "prompt", /--url needs a value \(for one that starts with a dash, write --url=VALUE\)/);
    expectUsage(await run(["prompt", "--jsonl=yes", "hi"]), "prompt", /--jsonl takes no value/);
    expectUsage(await run(["prompt"]), "prompt", /prompt needs the text to send/);
    expectUsage(await run(["demo", "now"]), "demo", /demo takes no arguments, got "now"/);
    expectUsage(await run(["serve", "extra"]), "serve", /serve takes no arguments, got "extra"/);
    expectUsage(await run(["doctor", "--fix"]), "doctor", /doctor has no option --fix/);
  });

  it("every bad option value is exit 2", async () => {
    const bad: [string[], RegExp][] = [
      [["prompt", "--log-level", "verbose", "hi"], /--log-level takes one of fatal, error, warn, info, debug, trace, silent, got "verbose"/],
      [["serve", "--log-level", "loud"], /--log-level takes one of/],
      [["demo", "--log-level", "x"], /--log-level takes one of/],
      [["prompt", "--permission", "maybe", "x"], /--permission takes reject, allow or ask, got "maybe"/],
      [["prompt", "--idle-timeout=-1", "x"], /--idle-timeout takes a number of seconds greater than 0, got "-1"/],
      [["prompt", "--turn-timeout", "soon", "x"], /--turn-timeout takes a number of seconds/],
      [["prompt", "--model", "nomodel", "x"], /--model takes provider\/model, got "nomodel"/],
      [["prompt", "--scenario", "tool", "x"], /--scenario goes with --scripted/],
      [["prompt", "--scripted", "--scenario", "nope", "x"], /--scenario takes one of text, .*got "nope"/],
      [["prompt", "--scripted", "--url", "http://127.0.0.1:9", "x"], /--scripted starts its own server/],
      [["prompt", "--url", "not a url", "x"], /url/i],
      [["serve", "--port", "70000"], /--port takes 0 to 65535, got 70000/],
      [["serve", "--port", "http"], /--port takes a whole number/],
      [["serve", "--retain-turns", "0"], /--retain-turns takes a whole number of at least 1/],
      [["serve", "--permission", "sometimes"], /--permission takes reject, allow or ask, got "sometimes"/],
      [["serve", "--scripted", "--opencode-url", "http://127.0.0.1:9"], /--scripted starts its own opencode/],
      [["serve", "--tool-timeout", "abc"], /: --tool-timeout takes a number of seconds greater than 0, got "abc"$/],
      [["serve", "--tool-timeout", "0"], /: --tool-timeout takes a number of seconds greater than 0, got "0"$/],
      [["serve", "--idle-timeout", "0"], /: --idle-timeout takes a number of seconds greater than 0, got "0"$/],
      [["serve", "--first-event-timeout", "0"], /: --first-event-timeout takes a number of seconds greater than 0, got "0"$/],
      [["serve", "--turn-timeout", "0.0001"], /: --turn-timeout takes a number of seconds of at least 0\.001, got "0\.0001"$/],
      [["serve", "--tool-timeout=-5"], /: --tool-timeout takes a number of seconds greater than 0, got "-5"$/],
      [["serve", "--tool-timeout", "-5"], /: --tool-timeout needs a value \(for one that starts with a dash, write --tool-timeout=VALUE\)$/],
      [["serve", "--tool-timeout", ""], /: --tool-timeout takes a number of seconds greater than 0, got ""$/],
      [["serve", "--tool-timeout", "0.0001"], /: --tool-timeout takes a number of seconds of at least 0\.001, got "0\.0001"$/],
      [["serve", "--tool-timeout", "Infinity"], /: --tool-timeout takes a number of seconds greater than 0, got "Infinity"$/],
      [["serve", "--tool-timeout", "2147484"], /: --tool-timeout takes at most 2147483\.647 seconds \(about 24\.8 days, Node's longest timer\), got "2147484"$/],
      [["prompt", "--turn-timeout", "1e7", "x"], /: --turn-timeout takes at most 2147483\.647 seconds/],
      [["serve", "--no-verify=yes"], /: --no-verify takes no value$/],
      [["prompt", "--tool-timeout", "0", "x"], /: --tool-timeout takes a number of seconds greater than 0, got "0"$/],
      [["prompt", "--no-verify=no", "x"], /: --no-verify takes no value$/],
      [["scripted-model", "--permission", "sometimes"], /--permission takes allow, ask or deny/],
      [["scripted-model", "--port", "-3"], /--port/],
      [["scripted-model", "--directory", "/no/such/dir"], /no such directory/],
      [["install", "--version", "latest"], /--version takes a version such as 1\.18\.33 or 2\.1\.2 \(or 1, 2: each line's pinned version\), got "latest"/],
      [["demo", "--opencode-version", "3"], /: --opencode-version takes 1 \(1\.18\.33\), 2 \(2\.1\.2\) or a version such as 2\.1\.2, got "3"$/],
      [["serve", "--opencode-version", "latest"], /: --opencode-version takes 1 \(1\.18\.33\), 2 \(2\.1\.2\) or a version/],
      [["serve", "--opencode-version", "2", "--opencode-url", "http://127.0.0.1:9"], /--opencode-version chooses the opencode serve the daemon starts: leave out --opencode-url$/],
      [["prompt", "--opencode-version", "2", "--url", "http://127.0.0.1:9", "x"], /--opencode-version chooses the opencode serve prompt starts: leave out --url$/],
      [["prompt", "--acp", "opencode acp", "--opencode-version", "2", "x"], /--acp runs an ACP agent: leave out --opencode-version$/],
    ];
    for (const [argv, pattern] of bad) expectUsage(await run(argv), argv[0], pattern);
    // LOG_LEVEL from the environment is checked too, and named.
    expectUsage(await run(["prompt", "--url", "http://127.0.0.1:9", "x"], { LOG_LEVEL: "chatty" }), "prompt", /LOG_LEVEL takes one of/);
  });

  it("a bad --tool-timeout of serve is refused before anything is written (no state directory, no token)", async () => {
    const stateDir = join(scratch, "never-made");
    expectUsage(await run(["serve", "--state-dir", stateDir, "--tool-timeout", "soon"]), "serve", /--tool-timeout takes a number of seconds/);
    expect(existsSync(stateDir)).toBe(false);
  });

  it("control characters of the input are escaped in messages", async () => {
    const r = await run(["\u001b[31mred"]);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain("\u001b");
    expect(r.stderr).toContain("\\u001b[31mred");
  });
});

describe("replay (in-process)", () => {
  const fixtures = loadFixtures();

  it.each(fixtures.map((f) => [f.name, f] as const))("%s prints the golden replies as JSON Lines", async (_n, f) => {
    const r = await run(["replay", join(FIXTURES, f.version, `${f.scenario}.sse`), "--trace-id", `trace-${f.scenario}`]);
    expect(lines(r.stdout)).toEqual(f.golden);
    const last = f.golden[f.golden.length - 1];
    expect(r.code).toBe(last?.kind === "final" ? 0 : 1);
  });

  it("--session selects another session of the stream; paths are relative to the working directory", async () => {
    const f = fixtures.find((x) => x.scenario === "interleaved");
    if (!f) throw new Error("no interleaved fixture");
    for (const s of Object.keys(f.record)) {
      const r = await run(["replay", "interleaved.sse", "--session", s], {}, join(FIXTURES, f.version));
      const out = lines(r.stdout);
      expect(out.length).toBeGreaterThan(1);
      expect(new Set(out.map((x) => x.session_id))).toEqual(new Set([s]));
      expect(out.map((x) => x.trace_id)[0]).toBe("replay");
    }
  });
});

describe("doctor", () => {
  it("with nothing installed: says so, where the cache is, how to get one; exit 1", async () => {
    const cache = join(scratch, "empty");
    const r = await run(["doctor"], { OPENCODE_BRIDGE_CACHE: cache, PATH: "/nonexistent" });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("would run:        nothing found");
    expect(r.stdout).toContain(`cache:            ${cache} (from $OPENCODE_BRIDGE_CACHE)`);
    expect(r.stdout).toContain(`would first install opencode-ai@1.18.33 into ${join(cache, "opencode", "1.18.33")}`);
    // And what the 2.x line would need: only this platform's package.
    expect(r.stdout).toContain(
      `  --opencode-version 2: would first install @opencode/cli-${process.platform}-${process.arch}@2.1.2 into ${join(cache, "opencode", "2.1.2")}`,
    );
    expect(r.stdout).toContain("opencode-bridge install");
    expect(r.stdout).toContain("acp claude:       @agentclientprotocol/claude-agent-acp@0.101.0 not installed");
    expect(r.stdout).toContain("acp codex:        @zed-industries/codex-acp@0.16.0 not installed");
    expect(existsSync(cache)).toBe(false); // looking writes nothing
  });

  it("names the binary it would run and where it came from", async () => {
    const root = join(scratch, "doctor-cache");
    const bin = fakeOpencodePackage(join(root, "opencode", "1.18.33"), "1.18.33");
    const xdg = await run(["doctor"], { OPENCODE_BRIDGE_CACHE: undefined, XDG_CACHE_HOME: join(scratch, "xdg"), PATH: "/nonexistent" });
    expect(xdg.stdout).toContain(`cache:            ${join(scratch, "xdg", "opencode-bridge")} (from $XDG_CACHE_HOME;`);
    const cached = await run(["doctor"], { OPENCODE_BRIDGE_CACHE: root });
    expect(cached.code).toBe(0);
    expect(cached.stdout).toContain(`would run:        ${bin} (from cache, version 1.18.33)`);
    expect(cached.stdout).toContain("cached versions:  1.18.33 (1.x)");
    const own = await run(["doctor"], { OPENCODE_BRIDGE_CACHE: root, OPENCODE_BIN: "/no/such/opencode" });
    expect(own.code).toBe(1);
    expect(own.stdout).toContain("OPENCODE_BIN is /no/such/opencode, which does not exist");
  });
});

/** A directory laid out as npm installs opencode-ai, with a script that answers --version. */
function fakeOpencodePackage(dir: string, version: string): string {
  const pkg = join(dir, "node_modules", "opencode-ai");
  const binDir = join(pkg, "bin");
  spawnSync("mkdir", ["-p", binDir]);
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "opencode-ai", version, bin: { opencode: "./bin/opencode" } }));
  writeFileSync(join(binDir, "opencode"), `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
  return join(binDir, "opencode");
}

describe("prompt without a server", () => {
  it("with no --url and no opencode anywhere: one clear line, exit 1, nothing written to the working directory", async () => {
    const cwd = mkdtempSync(join(scratch, "cwd-"));
    const r = await run(["prompt", "hi"], { PATH: "/nonexistent" }, cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^opencode-bridge: no opencode to start and no --url: run `opencode-bridge install` \(opencode-ai@1\.18\.33 into .*\), set OPENCODE_BIN to an opencode binary, or pass --url\n$/);
    expect(r.stderr).not.toMatch(/npm i -g opencode-ai(?!@)/);
    expect(spawnSync("ls", ["-A", cwd], { encoding: "utf8" }).stdout).toBe("");
  });

  it("an unreachable server ends the turn error transport, exit 1; log lines carry no duplicate key", async () => {
    const r = await run(["prompt", "--jsonl", "--log-level", "info", "--url", "http://127.0.0.1:9", "hi"]);
    expect(r.code).toBe(1);
    expect(lines(r.stdout).pop()).toMatchObject({ kind: "error", code: "transport" });
    for (const l of r.stderr.split("\n").filter((x) => x.startsWith("{"))) {
      // The line's own keys: nested objects (pino's serialized `err`, with its own `code`) are left out.
      const keys = [...topLevel(l).matchAll(/[{,]"([a-z_]+)":/g)].map((m) => m[1]);
      expect(new Set(keys).size, l).toBe(keys.length);
    }
  });
});

describe("Ctrl-C", () => {
  it("the first press aborts the turn; a second quits at once with 130", () => {
    const f = fakeIo();
    let aborts = 0;
    const said: string[] = [];
    const interrupt = onInterrupt(f.io, (s) => said.push(s));
    interrupt.signal.addEventListener("abort", () => aborts++);
    expect(interrupt.signal.aborted).toBe(false);
    f.signal("SIGINT");
    expect([aborts, f.exits, interrupt.signal.aborted]).toEqual([1, [], true]);
    expect(said).toEqual(["aborting the turn (Ctrl-C again to quit at once)"]);
    f.signal("SIGINT");
    expect([aborts, f.exits]).toEqual([1, [130]]);
    interrupt.off();
    f.signal("SIGINT");
    expect(f.exits).toEqual([130]);
  });
});

describe("scripted-model", () => {
  it("prints its URL and a ready project, answers as the scripts say, and removes the project on Ctrl-C", async () => {
    const f = fakeIo();
    const ready = new Promise<void>((r) => (f.stdout.onText = (t) => t.includes("Ctrl-C stops") && r()));
    const done = main(["scripted-model"], f.io);
    await ready;
    const url = /scripted model: (\S+)/.exec(f.stdout.text)?.[1] as string;
    const project = /project: +(\S+)/.exec(f.stdout.text)?.[1] as string;
    const config = JSON.parse(readFileSync(join(project, "opencode.json"), "utf8"));
    expect(config.provider.scripted.options.baseURL).toBe(url);
    expect(config.model).toBe("scripted/scripted-model");
    const res = await fetch(`${url}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ stream: false, messages: [{ role: "user", content: "[scenario:text] hi" }] }),
    });
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toBe("Hello from the scripted model. This is plain text.");
    expect(f.stdout.text).toMatch(/^\s+subagent\s+the task tool runs a subagent/m);
    f.signal("SIGINT");
    expect(await done).toBe(0);
    expect(existsSync(project)).toBe(false);
    await expect(fetch(url)).rejects.toThrow();
  });

  it("--directory merges the provider into an existing opencode.json and keeps the rest", async () => {
    const dir = mkdtempSync(join(scratch, "proj-"));
    writeFileSync(join(dir, "opencode.json"), JSON.stringify({ theme: "dark", provider: { mine: { name: "Mine" } } }));
    const f = fakeIo();
    const ready = new Promise<void>((r) => (f.stdout.onText = (t) => t.includes("Ctrl-C stops") && r()));
    const done = main(["scripted-model", "--directory", dir], f.io);
    await ready;
    const config = JSON.parse(readFileSync(join(dir, "opencode.json"), "utf8"));
    expect(config.theme).toBe("dark");
    expect(Object.keys(config.provider)).toEqual(["mine", "scripted"]);
    f.signal("SIGTERM");
    expect(await done).toBe(0);
    writeFileSync(join(dir, "opencode.json"), "{ // a comment\n}");
    const bad = await run(["scripted-model", "--directory", dir]);
    expectUsage(bad, "scripted-model", /cannot add the provider to .*opencode\.json: .*opencode\.jsonc with comments is not supported/);
  });
});

describe("prompt --no-verify", () => {
  // The server's record (GET /session/:id/message) is read once before a final, unless --no-verify.
  it.each([
    [[] as string[], 1],
    [["--no-verify"], 0],
  ])("%j: the record is read %i time(s); the turn ends final either way", async (flags, reads) => {
    const srv = await startReplayServer([scriptedTurnOf("1.18.33/text")]);
    try {
      const r = await run(["prompt", "--jsonl", "--url", srv.url, "--directory", "/tmp/project-under-test", ...flags, "hi"]);
      expect(r.code, r.stderr).toBe(0);
      expect(lines(r.stdout).at(-1)).toMatchObject({ kind: "final" });
      expect(srv.requests.filter((q) => q.method === "GET" && q.path.endsWith("/message"))).toHaveLength(reads);
    } finally {
      await srv.close();
    }
  });
});

describe("serve --no-verify", () => {
  // The same through the daemon, in-process (its adapters are built with the setting).
  it.each([
    [[] as string[], 1],
    [["--no-verify"], 0],
  ])("%j: the record is read %i time(s); the turn ends final either way", async (flags, reads) => {
    const srv = await startReplayServer([scriptedTurnOf("1.18.33/text")]);
    const f = fakeIo();
    const listening = new Promise<string>((resolve) => {
      f.stderr.onText = (t) => {
        const url = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"listening"/.exec(t)?.[1];
        if (url) resolve(url);
      };
    });
    const state = mkdtempSync(join(scratch, "serve-"));
    const args = ["serve", "--port", "0", "--no-token", "--state-dir", state, "--opencode-url", srv.url, "--directory", scratch, ...flags];
    const code = main(args, f.io);
    try {
      const url = await listening;
      const posted = await fetch(`${url}/v1/turns`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "hi" }) });
      expect(posted.status, await posted.clone().text()).toBe(202);
      const { trace_id } = (await posted.json()) as { trace_id: string };
      const events = await (await fetch(`${url}/v1/turns/${trace_id}/events`)).text();
      expect(events).toMatch(/event: done\ndata: \{[^\n]*"outcome":"final"/);
      // Reads after the prompt was sent (the adapter also reads the session's history before it).
      const sent = srv.requests.findIndex((q) => q.method === "POST" && q.path.endsWith("/prompt_async"));
      expect(sent).toBeGreaterThan(0);
      expect(srv.requests.slice(sent).filter((q) => q.method === "GET" && q.path.endsWith("/message"))).toHaveLength(reads);
    } finally {
      f.signal("SIGTERM");
      expect(await code).toBe(0);
      await srv.close();
    }
  });
});

/** A JSON object's text without its nested objects and arrays, so only its own keys remain. */
function topLevel(json: string): string {
  let out = "";
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i] as string;
    const keep = depth === 1 || (depth === 0 && c === "{") || (depth === 1 && c === "}");
    if (inString) {
      if (c === "\\") {
        if (depth === 1) out += c + (json[i + 1] ?? "");
        i++;
        continue;
      }
      if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") {
      depth++;
      if (keep) out += c;
      continue;
    } else if (c === "}" || c === "]") {
      if (keep) out += c;
      depth--;
      continue;
    }
    if (keep) out += c;
  }
  return out;
}
