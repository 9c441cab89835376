/**
 * `opencode-bridge prompt`: one turn against an OpenCode server, replies on stdout.
 */
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { OpencodeAdapter } from "../adapter/adapter.js";
import { AcpAdapter } from "../acp/adapter.js";
import { resolveAcpCommand } from "../acp/command.js";
import { BridgeError } from "../adapter/errors.js";
import { startScriptedOpencode, type ScriptedOpencode } from "../scripted-model/opencode.js";
import { scripts } from "../scripted-model/scripts.js";
import type { Line } from "../adapter/dialect.js";
import { chooseOpencodeBinary, opencodeLine } from "../server/install.js";
import { OwnedServer } from "../server/owned.js";
import { Envelope, type ReplyBody } from "../codec/envelope.js";
import { finish } from "../codec/ending.js";
import { createTurnState } from "../codec/state.js";
import { JsonlSink } from "../sink/jsonl.js";
import type { SinkObject } from "../sink/types.js";
import { howToGetOpencode, installOpencode, installReporter } from "./install-report.js";
import { terminalAsker } from "./ask.js";
import { type CliIo, INTERRUPTED, onInterrupt } from "./io.js";
import { PrettySink } from "./pretty.js";
import { acpOption, cliLogger, logLevel, opencodeVersionOption, optionSpecs, parseOptions, permissionOption, requireDirectory, timeoutOptions, UsageError } from "./usage.js";
import { errorMessage } from "../util/errors.js";

export async function runPrompt(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(
    "prompt",
    args,
    optionSpecs(
      [
        "url", "acp", "directory", "opencode-version", "scenario", "session", "trace-id", "model", "agent", "permission", "log-level",
        "first-event-timeout", "idle-timeout", "turn-timeout", "tool-timeout",
      ],
      ["scripted", "no-verify", "pretty", "jsonl"],
    ),
    true,
  );
  let text = positionals.join(" ").trim();
  if (text === "") throw new UsageError("prompt needs the text to send");
  // On a terminal a person is there to answer; otherwise nobody is.
  const person = io.stdin?.isTTY === true && io.stderr.isTTY === true ? io.stdin : undefined;
  const permission = permissionOption(values.permission ?? (person ? "ask" : "reject"));
  if (values.model !== undefined && !/^[^/]+\/.+$/.test(values.model)) {
    throw new UsageError(`--model takes provider/model, got ${JSON.stringify(values.model)}`);
  }
  if (values.scenario !== undefined) {
    if (!values.scripted) throw new UsageError("--scenario goes with --scripted");
    if (scripts[values.scenario] === undefined) {
      throw new UsageError(`--scenario takes one of ${Object.keys(scripts).join(", ")}, got ${JSON.stringify(values.scenario)}`);
    }
  }
  if (values.scripted && values.url !== undefined) throw new UsageError("--scripted starts its own server: leave out --url");
  const version = opencodeVersionOption(values["opencode-version"]);
  if (version !== undefined && values.url !== undefined) throw new UsageError("--opencode-version chooses the opencode serve prompt starts: leave out --url");
  acpOption(values, ["url", "scripted", "model", "agent", "opencode-version"]);
  const timeouts = timeoutOptions(values);
  let directory = resolve(io.cwd, values.directory ?? ".");
  const pretty = values.jsonl ? false : (values.pretty ?? io.stdout.isTTY === true);
  // The pretty view already says what went wrong, in words: no JSON log lines repeating it unless asked for.
  const level = logLevel(values["log-level"], io.env, pretty ? "silent" : "warn");
  const logger = cliLogger(level, io.stderr, ["password", "headers.authorization"]);
  const sink: SinkObject = pretty ? new PrettySink(io.stdout) : new JsonlSink(io.stdout);
  const say = (s: string) => io.stderr.write(`opencode-bridge: ${s}\n`);

  /** The OpenCode server: the one given, or one this command starts (it knows the line of what it started). */
  let target: { baseUrl: string; password: string | undefined; line?: Line } | undefined;
  const given = values.scripted ? undefined : (values.url ?? io.env.OPENCODE_URL);
  if (given !== undefined) target = { baseUrl: given, password: io.env.OPENCODE_SERVER_PASSWORD };
  let owned: OwnedServer | undefined;
  let scripted: ScriptedOpencode | undefined;
  const interrupt = onInterrupt(io, say);
  try {
    if (values.acp !== undefined) {
      // An ACP agent: no OpenCode server to find or start.
    } else if (values.scripted) {
      const t0 = performance.now();
      say("starting the scripted model and its own opencode serve (a few seconds) …");
      try {
        scripted = await startScriptedOpencode({ permission: "ask", version, logger, onInstall: installReporter(say) });
      } catch (err) {
        say(`could not start the scripted OpenCode: ${errorMessage(err)}`);
        return 1;
      }
      say(`opencode serve is ready (${((performance.now() - t0) / 1000).toFixed(1)} s); sending the prompt`);
      target = { baseUrl: scripted.url, password: scripted.password, line: scripted.line };
      directory = scripted.directory;
      if (!/\[scenario:[a-z0-9-]+\]/.test(text)) text = `[scenario:${values.scenario ?? "text"}] ${text}`;
    } else if (target === undefined) {
      // The server will be ours, started in this directory (with --url it is the server's path, maybe elsewhere).
      requireDirectory(directory);
      const choice = chooseOpencodeBinary(io.env);
      if (version === undefined && !choice.found) {
        say(`no opencode to start and no --url: ${howToGetOpencode(io.env, "--url")}`);
        return 1;
      }
      // The version asked for, from the per-user cache (installed there on first use).
      const binary = version === undefined ? choice.binary : await installOpencode(version, say);
      if (binary === undefined) return 1;
      owned = new OwnedServer({ directory, binary, ...(version !== undefined ? { line: opencodeLine(version) } : {}), logger });
      say(`starting opencode serve in ${directory} …`);
      try {
        const s = await owned.ensure();
        target = { baseUrl: s.url, password: owned.password, line: s.line };
      } catch (err) {
        say(`could not start opencode serve (${errorMessage(err)}); ${howToGetOpencode(io.env, "--url")}`);
        return 1;
      }
    }
    // Ctrl-C while the server was starting: no turn was sent, but the replies still end with `error aborted`.
    if (interrupt.signal.aborted) {
      abortedBeforeStart(sink, values["trace-id"] ?? randomUUID(), values.session ?? "");
      await sink.flush?.();
      return INTERRUPTED;
    }
    const common = {
      directory,
      permission,
      question: person ? ("ask" as const) : ("reject" as const),
      ...(person ? { onRequest: terminalAsker(person, io.stderr) } : {}),
      logger,
      ...timeouts,
    };
    const adapter =
      values.acp !== undefined
        ? new AcpAdapter({ ...common, command: resolveAcpCommand(values.acp, io.env), env: io.env }, sink)
        : new OpencodeAdapter({ ...common, ...(target as NonNullable<typeof target>), ...(values["no-verify"] ? { verifyAtEnd: false } : {}) }, sink);
    const result = await adapter.prompt(text, {
      traceId: values["trace-id"],
      sessionId: values.session,
      model: values.model,
      agent: values.agent,
      signal: interrupt.signal,
    });
    await adapter.close();
    if (interrupt.signal.aborted) return INTERRUPTED;
    return result.status === "final" ? 0 : 1;
  } catch (err) {
    if (err instanceof BridgeError && err.code === "config") throw new UsageError(err.message);
    throw err;
  } finally {
    interrupt.off();
    await owned?.stop();
    await scripted?.stop();
  }
}

/** A turn interrupted before its prompt was sent: its one terminal reply, `error aborted`, by the codec's own ending. */
function abortedBeforeStart(sink: SinkObject, traceId: string, sessionId: string): void {
  const state = createTurnState({ traceId, ...(sessionId ? { sessionId } : {}) });
  const out: ReplyBody[] = [];
  finish(state, { code: "aborted", message: "interrupted (Ctrl-C) before the prompt was sent" }, out);
  const envelope = new Envelope(traceId);
  for (const body of out) void sink.deliver(envelope.stamp(body, sessionId));
}
