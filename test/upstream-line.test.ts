/**
 * An external OpenCode's line is found once, in the background, and then known: a turn's
 * session and adapter are made for it without two detection requests each (src/daemon/upstream.ts,
 * src/adapter/line.ts `KnownLine`).
 * Against a 1.x stand-in on loopback (test/support/replay-server.ts) that logs every request.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createDialect } from "../src/adapter/line.js";
import { ExternalUpstream } from "../src/daemon/upstream.js";
import { startReplayServer, type ReplayServer } from "./support/replay-server.js";

let server: ReplayServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const asked = (s: ReplayServer, path: string) => s.requests.filter((r) => r.path === path).length;

/** Waits (bounded) until `ok` holds, checking on each tick of the event loop. */
async function until(ok: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("ExternalUpstream: the line of a server given by URL", () => {
  it("is found once however many turns ask at once, then given with the target; a dialect made from it asks no more", async () => {
    server = await startReplayServer([]);
    const up = new ExternalUpstream({ baseUrl: server.url }, process.cwd());
    // Not known yet: the first turns get the bare target (and find the line themselves, as before).
    const first = await Promise.all([up.target(), up.target(), up.target()]);
    expect(first.map((t) => t.line)).toEqual([undefined, undefined, undefined]);
    await until(async () => (await up.target()).line !== undefined, "the line is known");
    expect((await up.target()).line).toBe(1);
    // One detection (both lines' routes once), not one per call.
    expect([asked(server, "/api/info"), asked(server, "/global/health")]).toEqual([1, 1]);
    const dialect = createDialect({ ...(await up.target()), directory: process.cwd() });
    await dialect.sessionStatus();
    await dialect.info();
    expect([asked(server, "/api/info"), asked(server, "/global/health")]).toEqual([1, 2]);
  });

  it("a health probe that finds no server forgets the line: the next turns find it again", async () => {
    server = await startReplayServer([]);
    const up = new ExternalUpstream({ baseUrl: server.url }, process.cwd());
    await up.target();
    await until(async () => (await up.target()).line === 1, "the line is known");
    await server.close();
    server = undefined;
    const health = await up.health(2_000);
    expect(health).toMatchObject({ mode: "external", healthy: false });
    expect((await up.target()).line).toBeUndefined();
  });
});
