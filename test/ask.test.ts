/**
 * The terminal asker of `prompt` (src/cli/ask.ts) on in-memory streams: typed
 * answers, slips asked again, the end of input, a request settled elsewhere.
 * (The real terminal is tested through a pseudo-terminal in test/e2e/terminal.e2e.test.ts.)
 */
import { PassThrough } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import type { PermissionAsk, QuestionAsk } from "../src/codec/requests.js";
import { terminalAsker } from "../src/cli/ask.js";

const perm: PermissionAsk = {
  kind: "permission",
  request_id: "per_1",
  trace_id: "t",
  session_id: "s",
  permission: "bash",
  patterns: ["rm -rf build"],
  always: [],
  metadata: { command: "rm -rf build" },
};
const question: QuestionAsk = {
  kind: "question",
  request_id: "que_1",
  trace_id: "t",
  session_id: "s",
  questions: [{ question: "Which colour?", options: [{ label: "Blue" }, { label: "Red", description: "loud" }] }],
};

function terminal() {
  const input = new PassThrough();
  const out = new PassThrough();
  let text = "";
  out.on("data", (c: Buffer) => (text += c.toString()));
  /** Types `line` once the screen shows `prompt` for the `n`th time. */
  const answer = async (prompt: string, n: number, line: string) => {
    await vi.waitFor(() => expect(text.split(prompt).length - 1).toBeGreaterThanOrEqual(n));
    input.write(`${line}\n`);
  };
  return { input, ask: terminalAsker(input, out), answer, screen: () => text };
}

describe("terminal asker", () => {
  it("a permission: a slip is asked again; reject takes a reason for the model", async () => {
    const t = terminal();
    const pending = Promise.resolve(t.ask(perm, new AbortController().signal));
    await t.answer("[r]eject: ", 1, "maybe");
    await t.answer("[r]eject: ", 2, "r");
    await t.answer("Why (told to the model", 1, "too risky");
    expect(await pending).toEqual({ reply: "reject", message: "too risky" });
    expect(t.screen()).toContain("OpenCode asks permission: bash\n  rm -rf build");
  });

  it("a question: a number out of range is asked again, a number picks, words are taken as they are", async () => {
    const t = terminal();
    const first = Promise.resolve(t.ask(question, new AbortController().signal));
    await t.answer("Your choice", 1, "9");
    await t.answer("Your choice", 2, "2");
    expect(await first).toEqual({ answers: [["Red"]] });
    expect(t.screen()).toContain("2) Red — loud");
    const second = Promise.resolve(t.ask(question, new AbortController().signal));
    await t.answer("Your choice", 3, "green, please");
    expect(await second).toEqual({ answers: [["green, please"]] });
    const third = Promise.resolve(t.ask(question, new AbortController().signal));
    await t.answer("Your choice", 4, "");
    expect(await third).toEqual({ reply: "reject" });
  });

  it("the end of input rejects (the request is then rejected saying so); a request settled elsewhere stops asking", async () => {
    const t = terminal();
    const pending = Promise.resolve(t.ask(perm, new AbortController().signal));
    await vi.waitFor(() => expect(t.screen()).toContain("[r]eject: "));
    t.input.end();
    await expect(pending).rejects.toThrow(/input ended before an answer/);

    const u = terminal();
    const ac = new AbortController();
    const waiting = Promise.resolve(u.ask(perm, ac.signal));
    await vi.waitFor(() => expect(u.screen()).toContain("[r]eject: "));
    ac.abort();
    expect(await waiting).toBeUndefined();
  });
});
