/**
 * The keyed-session policy (src/adapter/sessions.ts) over real HTTP on loopback: a
 * tiny stand-in for OpenCode's session routes (create, get, delete), and the store.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dialect } from "../src/adapter/dialect.js";
import { createDialect } from "../src/adapter/line.js";
import { FileSessionStore, MemorySessionStore, SessionKeys } from "../src/adapter/sessions.js";

let server: Server;
let http: Dialect;
const sessions = new Map<string, Record<string, unknown>>();
let n = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const id = path.split("/")[2] ?? "";
      const send = (status: number, b: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(b));
      };
      if (req.method === "POST" && path === "/session") {
        const s = { id: `ses_${String(++n).padStart(4, "0")}`, ...(JSON.parse(body) as object) };
        sessions.set(s.id, s);
        return send(200, s);
      }
      if (req.method === "GET" && sessions.has(id)) return send(200, sessions.get(id));
      if (req.method === "DELETE" && sessions.delete(id)) return send(200, true);
      send(404, { name: "NotFoundError", data: { message: `Session not found: ${id}` } });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  http = createDialect({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, directory: "/tmp", requestTimeoutMs: 5_000, line: 1 });
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("SessionKeys", () => {
  it("reuses a key's session; a new one after another model, after transport/timeout, or when it was deleted; not after other endings", async () => {
    const keys = new SessionKeys(http, new MemorySessionStore());
    const a = await keys.ensure("k", { model: "p/m" });
    expect(a.created).toBe(true);
    expect(sessions.get(a.sessionId)).toMatchObject({ title: "bridge: k" });
    expect(await keys.ensure("k", { model: "p/m" })).toEqual({ sessionId: a.sessionId, created: false });
    for (const outcome of ["final", "upstream", "aborted", "permission", "not_found", "server"]) {
      await keys.ended("k", a.sessionId, outcome);
      expect((await keys.ensure("k", { model: "p/m" })).sessionId, outcome).toBe(a.sessionId);
    }
    const b = await keys.ensure("k", { model: "p/other" });
    expect(b.sessionId).not.toBe(a.sessionId);
    for (const outcome of ["transport", "timeout"]) {
      const before = (await keys.ensure("k", { model: "p/other" })).sessionId;
      await keys.ended("k", before, outcome);
      expect((await keys.ensure("k", { model: "p/other" })).sessionId, outcome).not.toBe(before);
    }
    const c = (await keys.ensure("k", { model: "p/other" })).sessionId;
    sessions.delete(c); // deleted behind the bridge's back
    expect((await keys.ensure("k", { model: "p/other" })).sessionId).not.toBe(c);
    // An outcome recorded for a session the key no longer maps to changes nothing.
    const d = (await keys.ensure("k", { model: "p/other" })).sessionId;
    await keys.ended("k", a.sessionId, "timeout");
    expect((await keys.ensure("k", { model: "p/other" })).sessionId).toBe(d);
  });

  it("creates with title, parent and permission rules; delete by key or id", async () => {
    const keys = new SessionKeys(http, new MemorySessionStore());
    const rules = [{ permission: "bash", pattern: "*", action: "deny" as const }];
    const { sessionId } = await keys.ensure("job", { title: "Job", parentID: "ses_parent", permission: rules });
    expect(sessions.get(sessionId)).toMatchObject({ title: "Job", parentID: "ses_parent", permission: rules });
    expect(await keys.delete("job")).toBe(true);
    expect(sessions.has(sessionId)).toBe(false);
    expect(await keys.delete("job")).toBe(false);
    await expect(keys.ensure("", {})).rejects.toThrow(/non-empty/);
  });

  it("FileSessionStore survives a restart, and moves an unreadable file aside", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bridge-keys-"));
    const file = join(dir, "sessions.json");
    const keys = new SessionKeys(http, new FileSessionStore(file));
    const { sessionId } = await keys.ensure("persisted", {});
    const again = new SessionKeys(http, new FileSessionStore(file));
    expect(await again.ensure("persisted", {})).toEqual({ sessionId, created: false });
    writeFileSync(file, "{not json");
    const store = new FileSessionStore(file);
    expect(store.recovered).toMatch(/could not be read/);
    expect(store.get("persisted")).toBeUndefined();
    expect(readdirSync(dir).some((f) => f.startsWith("sessions.json.corrupt-"))).toBe(true);
    expect(readFileSync(readdirSync(dir).map((f) => join(dir, f)).find((f) => f.includes("corrupt")) ?? "", "utf8")).toBe("{not json");
  });
});

describe("message ids", () => {
  it("OpenCode's ascending format; after every known id of the session; decoded like OpenCode's own", async () => {
    const { newMessageId, idTick } = await import("../src/adapter/message-id.js");
    // A real pair from the 1.18.33 missing-directory capture: session created, then its user message.
    expect(idTick("ses_dff3a4fdcffellH0qPom0KZNWe")! <= idTick("msg_200c5b0d0001JjxDA6ITKpHj5x")!).toBe(true);
    const now = 1795309285584;
    const a = newMessageId("t", now);
    const b = newMessageId("t", now);
    expect(a).toMatch(/^msg_[0-9a-f]{12}[0-9A-Za-z]{14}$/);
    expect(a < b).toBe(true);
    // A host clock behind the newest message it knows: the id still sorts after it.
    const newest = "msg_200c5baae001xfPU3SR2dJwrTo";
    const c = newMessageId("t", now - 60_000, ["ses_dff3a4fdcffellH0qPom0KZNWe", newest]);
    expect(c > newest).toBe(true);
    expect(c.slice(0, 16) < "msg_200c5baae003").toBe(true);
  });
});

describe("idempotent daemon turns across a restart", () => {
  it("the journal keeps each turn's request hash through a reopen (compaction) for the next daemon", async () => {
    const { Journal } = await import("../src/daemon/journal.js");
    const { requestHash } = await import("../src/daemon/options.js");
    const dir = mkdtempSync(join(tmpdir(), "journal-h-"));
    const h = requestHash({ text: "x", trace_id: "t1" });
    expect(requestHash({ trace_id: "t1", text: "x" })).toBe(h);
    expect(requestHash({ trace_id: "t1", text: "y" })).not.toBe(h);
    const opts = { keepFinished: 5, maxBytes: 1 << 20, syncIntervalMs: 10, onError: () => {} };
    const j = new Journal(dir, opts);
    j.open();
    j.turn("id-1", "t1", "ses_1", "/p", 1, h);
    j.end("id-1", "final");
    j.close();
    const again = new Journal(dir, opts);
    const turns = again.open(); // compacts: rewrites the file from what it read
    again.close();
    expect(turns.find((t) => t.traceId === "t1")?.requestHash).toBe(h);
    const third = new Journal(dir, opts);
    expect(third.open().find((t) => t.traceId === "t1")?.requestHash).toBe(h);
    third.close();
  });
});
