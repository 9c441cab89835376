/**
 * `opencode-bridge serve`: the HTTP daemon (see docs/daemon.md).
 * Resolves with the exit code once the daemon has shut down (SIGTERM/SIGINT).
 */
import { resolve } from "node:path";
import { isLoopbackHost } from "../daemon/auth.js";
import { BridgeDaemon } from "../daemon/daemon.js";
import { DaemonError } from "../daemon/errors.js";
import { DaemonOptionsSchema, type DaemonOptionsInput } from "../daemon/options.js";
import { defaultStateDir, loadOrCreateToken, openStateDir } from "../daemon/state.js";
import { WebhookOptionsSchema } from "../sink/webhook.js";
import type { CliIo } from "./io.js";
import { buildOutputs } from "./serve-outputs.js";
import { buildBackend, prepareUpstream } from "./serve-upstream.js";
import { acpOption, cliLogger, integer, logLevel, nonEmpty, opencodeVersionOption, optionSpecs, parseOptions, permissionOption, requireDirectory, secondsOption, timeoutOptions, UsageError } from "./usage.js";
import { errorMessage } from "../util/errors.js";

/** Seconds options of the daemon accept 0 (the components say where 0 makes no sense). */
const seconds = (name: string, v: string | undefined) => secondsOption(name, v, true);

const daemonOption = DaemonOptionsSchema.shape;

export async function runServe(args: string[], io: CliIo): Promise<number> {
  const { values } = parseOptions(
    "serve",
    args,
    optionSpecs(
      [
        "host", "port", "token", "state-dir", "store", "lease", "close-timeout", "max-subscribers", "max-subscribers-per-turn", "max-connections",
        "opencode-url", "acp", "directory", "webhook-timeout", "webhook-max-attempts", "webhook-max-elapsed", "webhook-backoff", "permission",
        "first-event-timeout", "idle-timeout", "turn-timeout", "tool-timeout", "answer-timeout", "retain-turns", "max-active-turns",
        "shutdown-grace", "log-level", "opencode-version",
      ],
      ["no-token", "webhook-batch", "no-verify", "scripted"],
      ["allow-origin", "allow-host", "allow-directory", "webhook", "jsonl"],
    ),
    false,
  );
  // Every option is checked before anything is written (the state directory, a generated token).
  const level = logLevel(values["log-level"], io.env, "info");
  if (values.scripted && values["opencode-url"] !== undefined) throw new UsageError("--scripted starts its own opencode: leave out --opencode-url");
  const version = opencodeVersionOption(values["opencode-version"]);
  if (version !== undefined && values["opencode-url"] !== undefined) {
    throw new UsageError("--opencode-version chooses the opencode serve the daemon starts: leave out --opencode-url");
  }
  // --store: several daemons follow OpenCode's record of a turn, and an ACP agent keeps none.
  acpOption(values, ["opencode-url", "scripted", "store", "no-verify", "opencode-version"]);
  const limits = {
    maxSubscribers: integer("max-subscribers", values["max-subscribers"], daemonOption.maxSubscribers),
    maxSubscribersPerTurn: integer("max-subscribers-per-turn", values["max-subscribers-per-turn"], daemonOption.maxSubscribersPerTurn),
    maxConnections: integer("max-connections", values["max-connections"], daemonOption.maxConnections),
    maxTurns: integer("retain-turns", values["retain-turns"], daemonOption.maxTurns),
    maxActiveTurns: integer("max-active-turns", values["max-active-turns"], daemonOption.maxActiveTurns),
    shutdownGraceMs: seconds("shutdown-grace", values["shutdown-grace"]),
  };
  // A turn's timeouts must be positive (0 is refused, as by `prompt`, not silently the default).
  const timeouts = timeoutOptions(values);
  const permission = permissionOption(values.permission ?? "reject");
  const store = nonEmpty(values.store) ?? nonEmpty(io.env.BRIDGE_STORE);
  // The URL may hold a password: it is never echoed back.
  if (store !== undefined && !/^postgres(ql)?:\/\//.test(store)) throw new UsageError("--store (or BRIDGE_STORE) takes a postgres:// or postgresql:// URL");
  const leaseMs = secondsOption("lease", values.lease);
  if (leaseMs !== undefined && store === undefined) throw new UsageError("--lease is for several daemons on one store: give --store (or BRIDGE_STORE) too");
  if (leaseMs !== undefined && (leaseMs < 300 || leaseMs > 15_000)) throw new UsageError(`--lease takes 0.3 to 15 seconds, got ${JSON.stringify(values.lease)}`);
  const port = integer("port", values.port, daemonOption.port);
  const directory = resolve(io.cwd, values.directory ?? ".");
  if (!values.scripted) requireDirectory(directory);
  const stateDir = resolve(io.cwd, values["state-dir"] ?? defaultStateDir(io.env as NodeJS.ProcessEnv));
  const noToken = values["no-token"] === true;
  // `[::1]` is how a URL writes an IPv6 host; to listen, the address goes without brackets.
  const host = values.host?.replace(/^\[(.*)\]$/, "$1");
  let token = nonEmpty(values.token) ?? nonEmpty(io.env.BRIDGE_TOKEN);
  if (token !== undefined && noToken) throw new UsageError("--no-token and a token (--token or BRIDGE_TOKEN) exclude each other");
  // A token is required by default. Beyond loopback it must be given explicitly (the options refuse otherwise).
  let stored: ReturnType<typeof loadOrCreateToken> | undefined;
  try {
    openStateDir(stateDir);
    if (token === undefined && !noToken && isLoopbackHost(host ?? "127.0.0.1")) stored = loadOrCreateToken(stateDir);
  } catch (err) {
    throw new UsageError(`--state-dir: ${errorMessage(err)}`);
  }
  if (stored !== undefined) {
    token = stored.token;
    if (stored.created) {
      io.stderr.write(
        `opencode-bridge: generated a bearer token, stored readable only by you in ${stored.file}\n` +
          `  send it with every request:  curl -H "Authorization: Bearer $(cat ${stored.file})" …\n` +
          `  (or start serve with BRIDGE_TOKEN set; --no-token turns authentication off)\n`,
      );
    }
  }
  const opencodeUrl = values.scripted ? undefined : (nonEmpty(values["opencode-url"]) ?? nonEmpty(io.env.OPENCODE_URL));
  const adapter: DaemonOptionsInput["adapter"] = {
    permission,
    ...timeouts,
    ...(values["no-verify"] ? { verifyAtEnd: false } : {}),
  };

  const logger = cliLogger(level, io.stderr, {
    // Belt and braces: the daemon never logs these, and would not show them if it did.
    paths: ["token", "password", "*.token", "*.password", "headers.authorization", "*.headers.authorization"],
    censor: "[redacted]",
  });

  const webhookUrls = values.webhook ?? (nonEmpty(io.env.BRIDGE_WEBHOOK_URL) ? [io.env.BRIDGE_WEBHOOK_URL as string] : []);
  const closeTimeoutMs = seconds("close-timeout", values["close-timeout"]);
  const outputs = buildOutputs(webhookUrls, values.jsonl ?? [], logger, io.stdout, io.cwd, {
    maxAttempts: integer("webhook-max-attempts", values["webhook-max-attempts"], WebhookOptionsSchema.shape.maxAttempts),
    maxElapsedMs: seconds("webhook-max-elapsed", values["webhook-max-elapsed"]),
    initialDelayMs: seconds("webhook-backoff", values["webhook-backoff"]),
    requestTimeoutMs: seconds("webhook-timeout", values["webhook-timeout"]),
    closeTimeoutMs,
    batch: values["webhook-batch"] === true ? {} : undefined,
  });

  const say = (s: string) => io.stderr.write(`opencode-bridge: ${s}\n`);
  const backend = await buildBackend({ acp: values.acp, opencodeUrl, scripted: values.scripted === true, version, directory, logger }, io, say);
  const closeOutputs = () => Promise.allSettled(outputs.map((o) => (typeof o.sink === "object" ? o.sink.close?.() : undefined)));
  if (backend === undefined) {
    await closeOutputs();
    return 1;
  }

  let daemon: BridgeDaemon;
  try {
    daemon = new BridgeDaemon({
      host,
      port,
      token,
      noToken,
      allowOrigins: values["allow-origin"],
      allowHosts: values["allow-host"],
      allowDirectories: (values["allow-directory"] ?? []).map((d) => resolve(io.cwd, d)),
      stateDir,
      ...(store !== undefined ? { store } : {}),
      ...(leaseMs !== undefined ? { leaseMs } : {}),
      closeTimeoutMs,
      ...limits,
      directory: backend.directory,
      upstream: backend.upstream,
      outputs,
      logger,
      adapter,
    });
  } catch (err) {
    await closeOutputs();
    await backend.cleanup();
    if (err instanceof DaemonError) throw new UsageError(err.problems);
    throw err;
  }

  let failed = await prepareUpstream(backend.upstream, io, say);
  if (failed === undefined) {
    try {
      await daemon.start();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      failed = e.syscall === "listen" ? `cannot listen on ${host ?? "127.0.0.1"}:${port ?? 4141}: ${e.message}` : `cannot start: ${e.message}`;
    }
  }
  if (failed !== undefined) {
    say(failed);
    await daemon.shutdown("start-up failed");
    await backend.cleanup();
    return 1;
  }

  let signals = 0;
  const offSignals = io.onSignal(["SIGTERM", "SIGINT"], (signal) => {
    signals++;
    if (signals === 1) {
      void daemon.shutdown(signal);
      return;
    }
    // A second signal: stop now. What was not finished is named in the log; the journal keeps it for the next start.
    daemon.exitNow(`${signal} again during shutdown`);
    logger.flush();
    io.exit(signal === "SIGINT" ? 130 : 143);
  });
  try {
    await daemon.stopped;
  } finally {
    offSignals();
    await backend.cleanup();
  }
  logger.flush();
  // Shutdown is bounded; whatever a hung peer still holds open (a socket, a child) must not keep the process alive.
  setTimeout(() => io.exit(0), 500).unref();
  return 0;
}
