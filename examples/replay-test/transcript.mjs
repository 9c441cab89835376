/**
 * The host code under test: a chat transcript built from the bridge's replies —
 * what a chat UI would render. `onReply` is the host's sink, the same function it
 * hands to `new OpencodeAdapter(config, onReply)` in production.
 */
export class Transcript {
  /** @type {Array<{type: "text", text: string} | {type: "tool", tool: string, input: unknown, status?: string, output?: string}>} */
  entries = [];
  /** @type {{status: "final" | "error", text?: string, code?: string} | undefined} */
  end = undefined;

  onReply = (reply) => {
    const last = this.entries[this.entries.length - 1];
    switch (reply.kind) {
      case "delta":
        if (last?.type === "text") last.text += reply.content;
        else this.entries.push({ type: "text", text: reply.content });
        break;
      case "reasoning":
        break; // not shown to the user
      case "tool_call":
        this.entries.push({ type: "tool", id: reply.call_id, tool: reply.tool, input: reply.input });
        break;
      case "tool_result": {
        const call = this.entries.find((e) => e.type === "tool" && e.id === reply.call_id);
        if (call) Object.assign(call, { status: reply.status, output: reply.output ?? reply.error });
        break;
      }
      case "final":
        this.end = { status: "final", text: reply.content };
        break;
      case "error":
        this.end = { status: "error", code: reply.code, text: reply.error };
        break;
    }
  };
}
