/**
 * The package as hosts load it, by name, in their own Node process (needs `dist/`,
 * so it runs in `npm test` after the build, not in `npm run test:unit`):
 * - `opencode-bridge/codec` loads neither pino, undici, the adapter nor the daemon;
 * - `require("opencode-bridge")` works from CommonJS (require(esm), Node ≥ 20.19);
 * - every subpath entry loads and exports what the README lists.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
let host: string;

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist/index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
  // A host project with the package installed under its name.
  host = mkdtempSync(join(tmpdir(), "ocb-host-"));
  mkdirSync(join(host, "node_modules"));
  symlinkSync(ROOT, join(host, "node_modules", "opencode-bridge"), "dir");
});

afterAll(() => {
  if (host) rmSync(host, { recursive: true, force: true });
});

function run(file: string, source: string, args: string[] = []): { stdout: string; stderr: string; status: number | null } {
  writeFileSync(join(host, file), source);
  const r = spawnSync(process.execPath, [...args, file], { cwd: host, encoding: "utf8", timeout: 30_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe("the published entry points", () => {
  it("opencode-bridge/codec loads neither pino, undici, the adapter nor the daemon", () => {
    // A resolve hook (on the loader thread) records every module URL the import pulls in.
    writeFileSync(
      join(host, "hooks.mjs"),
      `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.OCB_LOADED, r.url + "\\n");
  return r;
}`,
    );
    writeFileSync(join(host, "register.mjs"), `import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n`);
    const loaded = join(host, "loaded.txt");
    writeFileSync(loaded, "");
    writeFileSync(
      join(host, "codec.mjs"),
      `import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { mapOpencodeEvent, finishTurn, createTurnState, contractViolations } from "opencode-bridge/codec";
const state = createTurnState({ traceId: "t", sessionId: "ses_1" });
mapOpencodeEvent({ type: "server.connected", properties: {} }, state);
const replies = finishTurn(state, { code: "transport" }).replies;
const urls = readFileSync(process.env.OCB_LOADED, "utf8").split("\\n").filter(Boolean);
const cjs = Object.keys(createRequire(import.meta.url).cache);
console.log(JSON.stringify({ replies, violations: contractViolations(replies), urls, cjs }));
`,
    );
    const r = spawnSync(process.execPath, ["--import", "./register.mjs", "codec.mjs"], {
      cwd: host,
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, OCB_LOADED: loaded },
    });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { replies: { kind: string }[]; violations: string[]; urls: string[]; cjs: string[] };
    expect(out.replies.map((x) => x.kind)).toEqual(["error"]);
    expect(out.violations).toEqual([]);
    const all = [...out.urls, ...out.cjs];
    // It did load the codec (so the hook saw the graph) …
    expect(all.some((u) => u.includes("/dist/codec/codec.js"))).toBe(true);
    expect(all.some((u) => u.includes("/node_modules/zod/"))).toBe(true);
    // … and nothing of the live path.
    for (const banned of ["/node_modules/pino/", "/node_modules/undici/", "/dist/adapter/", "/dist/daemon/", "/dist/sink/"]) {
      expect(all.filter((u) => u.includes(banned)), banned).toEqual([]);
    }
  });

  it('require("opencode-bridge") works from a CommonJS project', () => {
    const r = run(
      "host.cjs",
      `const b = require("opencode-bridge");
const codec = require("opencode-bridge/codec");
const daemon = require("opencode-bridge/daemon");
const st = codec.createTurnState({ traceId: "t", sessionId: "s" });
console.log(JSON.stringify({
  adapter: typeof b.OpencodeAdapter,
  daemon: typeof daemon.BridgeDaemon,
  sink: typeof b.MemorySink,
  same: b.contractViolations === codec.contractViolations,
  terminal: codec.finishTurn(st, { code: "aborted" }).replies[0].code,
}));`,
    );
    expect(r.stderr).not.toMatch(/ERR_|Error/);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ adapter: "function", daemon: "function", sink: "function", same: true, terminal: "aborted" });
  });

  it("a host's empty prompt, malformed model and bad option end with invalid_request, and prompt() rejects with BridgeError config", () => {
    // No server is needed: the adapter refuses these before any request (port 1 would refuse a connection anyway).
    const r = run(
      "misuse.mjs",
      `import { OpencodeAdapter, BridgeError, ReplySchema } from "opencode-bridge";
const replies = [];
const adapter = new OpencodeAdapter({ baseUrl: "http://127.0.0.1:1", directory: "/tmp" }, (reply) => { replies.push(reply); });
const calls = [["  ", { traceId: "t-empty" }], ["x", { traceId: "t-model", model: "no-slash" }], ["x", { traceId: "t-opt", question: "maybe" }]];
const thrown = [];
for (const [text, opts] of calls) {
  try { await adapter.prompt(text, opts); thrown.push("resolved"); }
  catch (err) { thrown.push(err instanceof BridgeError ? err.code : String(err)); }
}
await adapter.close();
console.log(JSON.stringify({ thrown, replies: replies.map((x) => [x.trace_id, x.kind, x.code, ReplySchema.safeParse(x).success]) }));`,
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      thrown: ["config", "config", "config"],
      replies: [
        ["t-empty", "error", "invalid_request", true],
        ["t-model", "error", "invalid_request", true],
        ["t-opt", "error", "invalid_request", true],
      ],
    });
  });

  it("every subpath loads; internals are not exported", () => {
    const r = run(
      "subpaths.mjs",
      `const names = {};
for (const p of ["opencode-bridge", "opencode-bridge/codec", "opencode-bridge/adapter", "opencode-bridge/sink", "opencode-bridge/daemon", "opencode-bridge/scripted-model", "opencode-bridge/acp"]) {
  names[p] = Object.keys(await import(p)).sort();
}
console.log(JSON.stringify(names));`,
    );
    expect(r.stderr).toBe("");
    const names = JSON.parse(r.stdout) as Record<string, string[]>;
    expect(names["opencode-bridge/codec"]).toContain("mapOpencodeEvent");
    expect(names["opencode-bridge/adapter"]).toContain("OpencodeAdapter");
    expect(names["opencode-bridge/sink"]).toContain("WebhookSink");
    expect(names["opencode-bridge/daemon"]).toContain("BridgeDaemon");
    expect(names["opencode-bridge/acp"]).toEqual(expect.arrayContaining(["AcpAdapter", "parseCapture", "replayAcpCapture", "ensureAgent", "createScriptedAgent"]));
    const root = names["opencode-bridge"] ?? [];
    for (const internal of ["EventHub", "OpencodeHttp", "beginResync", "mapEventInto", "parseEvent", "EventStreamDecoder"]) {
      expect(root, internal).not.toContain(internal);
    }
    // The daemon's internals stay private.
    for (const internal of ["BearerAuth", "RequestGuard", "isLoopbackHost", "HttpError", "DaemonOptionsSchema", "TurnRequestSchema"]) {
      expect(names["opencode-bridge/daemon"], internal).not.toContain(internal);
    }

  });
});
