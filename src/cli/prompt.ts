/**
 * `opencode-bridge prompt`: one turn against an OpenCode server, replies on stdout.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { OpencodeAdapter } from "../adapter/adapter.js";
import { BridgeError } from "../adapter/errors.js";
import { JsonlSink } from "../sink/jsonl.js";
import type { SinkObject } from "../sink/types.js";
import { OwnedServer } from "../server/owned.js";
import { PrettySink } from "./pretty.js";
import { secondsOption, UsageError } from "./usage.js";

export async function runPrompt(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      directory: { type: "string" },
      session: { type: "string" },
      "trace-id": { type: "string" },
      model: { type: "string" },
      agent: { type: "string" },
      "first-event-timeout": { type: "string" },
      "idle-timeout": { type: "string" },
      "turn-timeout": { type: "string" },
      permission: { type: "string" },
      pretty: { type: "boolean" },
      jsonl: { type: "boolean" },
      "log-level": { type: "string" },
    },
  });
  const text = positionals.join(" ").trim();
  if (text === "") throw new UsageError("prompt needs the text to send");
  const permission = values.permission ?? "reject";
  if (permission !== "reject" && permission !== "allow") {
    throw new UsageError(`--permission takes reject or allow, got ${JSON.stringify(permission)}`);
  }
  if (values.model !== undefined && !/^[^/]+\/.+$/.test(values.model)) {
    throw new UsageError(`--model takes provider/model, got ${JSON.stringify(values.model)}`);
  }
  const timeouts = {
    firstEventTimeoutMs: secondsOption("first-event-timeout", values["first-event-timeout"]),
    idleTimeoutMs: secondsOption("idle-timeout", values["idle-timeout"]),
    turnTimeoutMs: secondsOption("turn-timeout", values["turn-timeout"]),
  };
  const directory = resolve(values.directory ?? process.cwd());
  const pretty = values.jsonl ? false : (values.pretty ?? process.stdout.isTTY === true);
  const logger = pino(
    { level: values["log-level"] ?? process.env.LOG_LEVEL ?? "warn", redact: ["password", "headers.authorization"] },
    pino.destination(2),
  );
  const sink: SinkObject = pretty ? new PrettySink(process.stdout) : new JsonlSink(process.stdout);

  let url = values.url ?? process.env.OPENCODE_URL;
  let password = process.env.OPENCODE_SERVER_PASSWORD;
  let owned: OwnedServer | undefined;
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write("opencode-bridge: aborting the turn (Ctrl-C again to quit at once)\n");
      ac.abort();
    } else {
      process.exit(130);
    }
  };
  process.on("SIGINT", onSigint);
  try {
    if (url === undefined) {
      owned = new OwnedServer({ directory, logger });
      try {
        const s = await owned.ensure();
        url = s.url;
        password = owned.password;
      } catch (err) {
        process.stderr.write(
          `opencode-bridge: could not start opencode serve (${(err as Error).message}); install opencode-ai (npm i -g opencode-ai), set OPENCODE_BIN, or pass --url\n`,
        );
        return 1;
      }
    }
    const adapter = new OpencodeAdapter(
      {
        baseUrl: url,
        directory,
        password,
        permission,
        logger,
        ...Object.fromEntries(Object.entries(timeouts).filter(([, v]) => v !== undefined)),
      },
      sink,
    );
    const result = await adapter.prompt(text, {
      traceId: values["trace-id"],
      sessionId: values.session,
      model: values.model,
      agent: values.agent,
      signal: ac.signal,
    });
    await adapter.close();
    return result.status === "final" ? 0 : 1;
  } catch (err) {
    if (err instanceof BridgeError && err.code === "config") throw new UsageError(err.message);
    throw err;
  } finally {
    process.off("SIGINT", onSigint);
    await owned?.stop();
  }
}
