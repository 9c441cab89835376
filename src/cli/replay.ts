/**
 * `opencode-bridge replay`: the replies of one turn of a recorded /event stream.
 * (Moved here from main.ts unchanged but for the injected io; its owner reworks it.)
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { replay } from "../codec/replay.js";
import type { CliIo } from "./io.js";
import { parseOptions, UsageError } from "./usage.js";

export async function runReplay(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(
    "replay",
    args,
    {
      session: { type: "string" },
      "trace-id": { type: "string" },
    },
    true,
  );
  if (positionals.length !== 1) throw new UsageError(`replay takes one file, got ${positionals.length}`);
  const file = positionals[0] as string;
  const path = resolve(io.cwd, file);
  if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`no such file: ${file}`);
  const result = await replay(createReadStream(path), {
    sessionId: values.session,
    traceId: values["trace-id"],
    onReply: (r) => io.stdout.write(`${JSON.stringify(r)}\n`),
    onIssue: (i) => io.stderr.write(`opencode-bridge: ${i.code}: ${i.message}\n`),
  });
  const last = result.replies[result.replies.length - 1];
  return last?.kind === "final" ? 0 : 1;
}
