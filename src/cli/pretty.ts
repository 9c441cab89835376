/**
 * A readable streaming view of replies for people at a terminal: answer text as
 * it streams, reasoning dimmed, tool calls and results on their own lines, and
 * the outcome at the end.
 */
import type { Writable } from "node:stream";
import type { Reply } from "../codec/reply.js";
import type { SinkObject } from "../sink/types.js";

export class PrettySink implements SinkObject {
  private atLineStart = true;
  private mode: "none" | "text" | "reasoning" = "none";

  constructor(
    private readonly out: Writable = process.stdout,
    private readonly color = (out as { isTTY?: boolean }).isTTY === true,
  ) {}

  private paint(code: string, s: string): string {
    return this.color ? `\u001b[${code}m${s}\u001b[0m` : s;
  }

  private write(s: string): void {
    if (s === "") return;
    this.out.write(s);
    this.atLineStart = s.endsWith("\n");
  }

  private newline(): void {
    if (!this.atLineStart) this.write("\n");
  }

  deliver(r: Reply): void {
    switch (r.kind) {
      case "delta":
        if (this.mode !== "text") this.newline();
        this.mode = "text";
        this.write(r.content);
        return;
      case "reasoning":
        if (this.mode !== "reasoning") {
          this.newline();
          this.write(this.paint("2", "thinking: "));
        }
        this.mode = "reasoning";
        this.write(this.paint("2", r.content));
        return;
      case "tool_call":
        this.newline();
        this.mode = "none";
        this.write(`${this.paint("36", `→ ${r.tool}`)} ${summarize(r.input)}\n`);
        return;
      case "tool_result": {
        this.newline();
        this.mode = "none";
        const head = r.status === "completed" ? this.paint("32", `✓ ${r.tool}`) : this.paint("31", `✗ ${r.tool}`);
        const body = r.status === "completed" ? (r.title ?? summarize(r.output ?? "")) : (r.error ?? "failed");
        this.write(`${head} ${oneLine(body)}\n`);
        return;
      }
      case "final": {
        this.newline();
        const usage = r.usage ? ` · ${r.usage.input} in / ${r.usage.output} out tokens` : "";
        this.write(this.paint("2", `— done${usage}\n`));
        return;
      }
      case "error":
        this.newline();
        this.write(this.paint("31", `— error (${r.code}): ${r.error}\n`));
        return;
      default: {
        const never: never = r;
        void never;
      }
    }
  }
}

/** `s` on one line (runs of whitespace as one space), cut at `max` characters with an ellipsis. */
export function oneLine(s: string, max = 160): string {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

function summarize(v: unknown): string {
  return oneLine(typeof v === "string" ? v : JSON.stringify(v) ?? "");
}
