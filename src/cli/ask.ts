/**
 * A person at the terminal answers OpenCode's requests during `prompt`: the
 * request is shown on stderr (stdout carries the replies) and the answer read
 * from stdin, one request at a time. Ctrl-C while asking aborts the turn as it
 * does at any other moment (readline takes the key in raw mode, so it is passed
 * on as SIGINT to the command's own handler).
 */
import { createInterface } from "node:readline/promises";
import type { RequestHook } from "../adapter/requests.js";
import type { BridgeRequest, RequestAnswer, RequestSubagent } from "../codec/requests.js";
import type { Input, Output } from "./io.js";

export function terminalAsker(stdin: Input, out: Output): RequestHook {
  let queue: Promise<unknown> = Promise.resolve();
  return (req, signal) => {
    const next = queue.then(() => (signal.aborted ? undefined : askOne(stdin, out, req, signal)));
    queue = next.catch(() => undefined);
    return next;
  };
}

async function askOne(stdin: Input, out: Output, req: BridgeRequest, signal: AbortSignal): Promise<RequestAnswer | undefined> {
  const rl = createInterface({ input: stdin, output: out, terminal: stdin.isTTY === true });
  rl.on("SIGINT", () => {
    rl.close();
    process.kill(process.pid, "SIGINT");
  });
  // Ctrl-D (or a closed stdin) ends the input: no answer will come, so the request is rejected saying so.
  const closed = new Promise<never>((_, reject) => rl.once("close", () => reject(new Error("the terminal's input ended before an answer"))));
  closed.catch(() => undefined);
  const ask = (q: string) => Promise.race([rl.question(q, { signal }), closed]);
  try {
    const from = req.subagent ? ` (from subagent ${subagentLabel(req.subagent)})` : "";
    if (req.kind === "permission") {
      const what = typeof req.metadata.command === "string" ? req.metadata.command : req.patterns.join(", ");
      out.write(`\nOpenCode asks permission${from}: ${req.permission}\n  ${what}\n`);
      // "always" grants OpenCode's own (often wider) patterns: say which before the choice.
      if (req.always.length > 0) out.write(`  [a]lways would allow from now on: ${req.always.join(", ")}\n`);
      for (;;) {
        const a = (await ask("Allow? [o]nce, [a]lways, [r]eject: ")).trim().toLowerCase();
        if (a === "o" || a === "once") return { reply: "once" };
        if (a === "a" || a === "always") return { reply: "always" };
        if (a === "r" || a === "reject") {
          const message = (await ask("Why (told to the model; Enter for nothing): ")).trim();
          return message === "" ? { reply: "reject" } : { reply: "reject", message };
        }
      }
    }
    const answers: string[][] = [];
    for (const q of req.questions) {
      out.write(`\nOpenCode asks${from}: ${q.header ? `${q.header}: ` : ""}${q.question}\n`);
      q.options.forEach((o, i) => out.write(`  ${i + 1}) ${o.label}${o.description ? ` — ${o.description}` : ""}\n`));
      for (;;) {
        const hint = q.multiple ? "numbers separated by commas" : "a number";
        const a = (await ask(`Your choice (${hint}${q.custom !== false ? ", or your own words" : ""}; Enter to dismiss): `)).trim();
        if (a === "") return { reply: "reject" };
        const picks = a.split(",").map((x) => Number(x.trim()));
        if (picks.every((n) => Number.isInteger(n) && n >= 1 && n <= q.options.length) && (q.multiple || picks.length === 1)) {
          answers.push(picks.map((n) => q.options[n - 1]?.label ?? ""));
          break;
        }
        // Numbers that name no option are a slip, not an answer in the person's own words: ask again.
        if (q.custom !== false && !/^[\d\s,]+$/.test(a)) {
          answers.push([a]);
          break;
        }
      }
    }
    return { answers };
  } catch (err) {
    // Settled otherwise (timeout, answered elsewhere, turn over): nothing more to ask.
    if (signal.aborted) return undefined;
    throw err;
  } finally {
    rl.close();
  }
}

/** A subagent as a person knows it: its task's description and agent type, else its session. */
export function subagentLabel(s: RequestSubagent): string {
  const named = [s.description && `"${s.description}"`, s.agent].filter(Boolean).join(", ");
  return named || s.session_id;
}
