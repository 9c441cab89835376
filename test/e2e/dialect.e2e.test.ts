/**
 * The dialect seam against real servers: the line found at connect time on
 * OpenCode 1.18.33 and 2.1.2 (right password, wrong one, none), and each 2.x route
 * the 2.x dialect uses, run against a live 2.1.2 with the scripted model.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dialect } from "../../src/adapter/dialect.js";
import { BridgeError } from "../../src/adapter/errors.js";
import { createDialect } from "../../src/adapter/line.js";
import { OpencodeHttp } from "../../src/adapter/http.js";
import { newMessageId } from "../../src/adapter/message-id.js";
import { PINNED_OPENCODE2_VERSION } from "../../src/server/install.js";
import { E2E_VERSION, scenario, startLive, type Live } from "../support/live.js";

/** Poll `check` every 100 ms until it gives a value, at most `ms`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("line detection", () => {
  let v1: Live;
  let v2: Live;
  beforeAll(async () => {
    [v1, v2] = await Promise.all([startLive({ password: "one-secret" }), startLive({ version: PINNED_OPENCODE2_VERSION })]);
  });
  afterAll(async () => {
    await Promise.all([v1?.stop(), v2?.stop()]);
  });

  it(`finds 1.x on ${E2E_VERSION} and 2.x on 2.1.2`, async () => {
    expect(await createDialect({ baseUrl: v1.url, directory: v1.directory, password: "one-secret" }).info()).toEqual({
      line: 1,
      version: E2E_VERSION,
      healthy: true,
    });
    expect(await createDialect({ baseUrl: v2.url, directory: v2.directory, password: v2.password }).info()).toMatchObject({
      line: 2,
      version: "2.1.2",
    });
  });

  it.each([
    ["a wrong password", "not-the-password", "check the password"],
    ["no password", undefined, "2.x always needs a password"],
  ])("2.x with %s: auth, naming the fix, no HTML", async (_name, password, words) => {
    const err = await createDialect({ baseUrl: v2.url, directory: v2.directory, password }).info().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BridgeError);
    expect((err as BridgeError).code).toBe("auth");
    expect((err as BridgeError).message).toContain("OpenCode 2.x refused the credentials");
    expect((err as BridgeError).message).toContain(words);
    expect((err as BridgeError).message).not.toMatch(/<|html/i);
  });

  it("1.x with a wrong password: auth", async () => {
    const err = await createDialect({ baseUrl: v1.url, directory: v1.directory, password: "wrong" }).info().catch((e: unknown) => e);
    expect((err as BridgeError).code).toBe("auth");
  });
});

describe("the 2.x routes against 2.1.2", () => {
  let live: Live;
  let d: Dialect;
  beforeAll(async () => {
    live = await startLive({ version: PINNED_OPENCODE2_VERSION });
    d = createDialect({ baseUrl: live.url, directory: live.directory, password: live.password });
  });
  afterAll(async () => {
    await live?.stop();
  });

  it("create, exists, prompt with the bridge's id (a retry is the same message), record, status, delete", async () => {
    const sid = await d.createSession({ title: "bridge: routes" });
    expect(sid).toMatch(/^ses_/);
    expect(await d.sessionExists(sid)).toBe(true);
    expect(await d.sessionExists("ses_doesnotexist")).toBe(false);
    const id = newMessageId("routes-trace", Date.now() + Math.min(0, d.serverClockOffsetMs ?? 0), [sid]);
    const body = { messageID: id, parts: [{ type: "text" as const, text: scenario("text") }] };
    await d.prompt(sid, body);
    // Busy while it runs (or already done): then idle, and the record names our message.
    const ids = await until("the turn to end", async () => {
      const busy = (await d.sessionStatus())[sid];
      if (busy !== undefined) {
        expect(busy).toEqual({ type: "busy" });
        return undefined;
      }
      const got = await d.recentMessageIds(sid, 20);
      return got.length >= 3 ? got : undefined;
    });
    expect(ids).toContain(id);
    const requests = live.model.requests.length;
    // The same prompt again (a retry after a lost answer): the server answers the stored message.
    await d.prompt(sid, body);
    expect((await d.recentMessageIds(sid, 20)).filter((x) => x === id)).toHaveLength(1);
    expect(live.model.requests.length).toBe(requests);
    await d.abort(sid); // idle: nothing to interrupt, no error
    expect(await d.deleteSession(sid)).toBe(true);
    expect(await d.sessionExists(sid)).toBe(false);
    expect(await d.deleteSession(sid)).toBe(false);
  });

  it("answers to requests the server does not hold are false, not errors", async () => {
    const sid = await d.createSession();
    expect(await d.replyPermission(sid, "per_doesnotexist", "reject", "no")).toBe(false);
    expect(await d.replyQuestion(sid, "frm_doesnotexist", [["Blue"]])).toBe(false);
    expect(await d.rejectQuestion(sid, "frm_doesnotexist")).toBe(false);
  });

  it("refuses what 2.x cannot do per prompt, before sending anything", async () => {
    const sid = await d.createSession();
    const err = await d.prompt(sid, { parts: [{ type: "text", text: "x" }], system: "be brief" }).catch((e: unknown) => e);
    expect((err as BridgeError).code).toBe("config");
    expect((err as BridgeError).message).toContain("no per-prompt system");
    expect(await d.recentMessageIds(sid, 5)).toEqual([]);
  });
});

describe("2.x requests answered through the dialect, against 2.1.2 (permission: ask)", () => {
  let live: Live;
  let d: Dialect;
  /** The test's own look at what the server holds (the dialect has no list route: requests reach it as events). */
  let raw: OpencodeHttp;
  beforeAll(async () => {
    live = await startLive({ version: PINNED_OPENCODE2_VERSION, permission: "ask" });
    d = createDialect({ baseUrl: live.url, directory: live.directory, password: live.password });
    raw = new OpencodeHttp({ baseUrl: live.url, directory: live.directory, password: live.password, requestTimeoutMs: 5_000, directoryQuery: false });
  });
  afterAll(async () => {
    await live?.stop();
  });

  const pending = (sid: string, what: "permission" | "form") =>
    until(`a pending ${what}`, async () => {
      const { body } = await raw.call("GET", `/api/session/${sid}/${what}`);
      return (body as { data: { id: string; fields?: { key: string; options?: { label: string; value: string }[] }[] }[] }).data[0];
    });
  const record = async (sid: string) =>
    ((await raw.call("GET", `/api/session/${sid}/message`)).body as { data: { type: string; outcome?: string; content?: unknown[] }[] }).data;
  const idle = (sid: string) => until("the turn to end", async () => ((await record(sid))[0]?.type === "idle" ? record(sid) : undefined));

  it.each([
    ["allow once", "once" as const],
    ["reject with a message", "reject" as const],
  ])("permission %s: the decision reaches the tool; a second answer is false", async (_name, decision) => {
    const sid = await d.createSession();
    await d.prompt(sid, { parts: [{ type: "text", text: scenario("permission") }] });
    const req = await pending(sid, "permission");
    expect(req.id).toMatch(/^per/);
    expect(await d.replyPermission(sid, req.id, decision, decision === "reject" ? "not now" : undefined)).toBe(true);
    expect(await d.replyPermission(sid, req.id, decision)).toBe(false);
    const messages = await idle(sid);
    const shell = messages.flatMap((m) => m.content ?? []).find((c) => (c as { name?: string }).name === "shell") as
      | { state: { status: string; error?: { message?: string } } }
      | undefined;
    // Allowed, the shell call ran; rejected, it failed with the rejection.
    expect(shell?.state.status).toBe(decision === "once" ? "completed" : "error");
    if (decision === "reject") expect(JSON.stringify(shell?.state)).toContain("not now");
  });

  it("a question (a form): answered by label, the option's value reaches the model; a second answer is false", async () => {
    const sid = await d.createSession();
    await d.prompt(sid, { parts: [{ type: "text", text: scenario("question") }] });
    const form = await pending(sid, "form");
    const first = form.fields?.[0];
    const option = first?.options?.[0];
    expect(option).toBeDefined();
    expect(await d.replyQuestion(sid, form.id, [[option?.label ?? ""]])).toBe(true);
    expect(await d.replyQuestion(sid, form.id, [[option?.label ?? ""]])).toBe(false);
    expect(await d.rejectQuestion(sid, form.id)).toBe(false);
    const messages = await idle(sid);
    expect(messages[0]).toMatchObject({ type: "idle", outcome: "succeeded" });
    // The question tool's result, as 2.1.2 records it, carries the chosen option.
    const tool = messages.flatMap((m) => m.content ?? []).find((c) => (c as { name?: string }).name === "question") as
      | { state: { status: string; metadata?: { answers?: unknown } } }
      | undefined;
    expect(tool?.state.status).toBe("completed");
    expect(tool?.state.metadata?.answers).toEqual([[option?.value]]);
  });

  it("a question dismissed: the form is cancelled and the tool says so", async () => {
    const sid = await d.createSession();
    await d.prompt(sid, { parts: [{ type: "text", text: scenario("question") }] });
    const form = await pending(sid, "form");
    expect(await d.rejectQuestion(sid, form.id)).toBe(true);
    expect(await d.rejectQuestion(sid, form.id)).toBe(false);
    // 2.1.2 ends the step at a dismissed question (no idle record follows): the session goes inactive.
    await until("the session to stop", async () => ((await d.sessionStatus())[sid] === undefined ? true : undefined));
    expect(JSON.stringify(await record(sid))).toContain("The user dismissed this question");
  });
});
