/**
 * The daemon's outputs from `serve`'s flags: one WebhookSink per --webhook, one
 * JsonlSink per --jsonl (opened now, so a bad path refuses to start).
 */
import { resolve } from "node:path";
import type { Logger } from "pino";
import type { NamedSink } from "../sink/fanout.js";
import { JsonlSink } from "../sink/jsonl.js";
import { WebhookSink } from "../sink/webhook.js";
import type { Output } from "./io.js";
import { UsageError } from "./usage.js";
import { errorMessage } from "../util/errors.js";

export function buildOutputs(
  webhooks: readonly string[],
  jsonl: readonly string[],
  logger: Logger,
  stdout: Output,
  cwd: string,
  tuning: { maxAttempts?: number; maxElapsedMs?: number; initialDelayMs?: number; requestTimeoutMs?: number; closeTimeoutMs?: number; batch?: object },
): NamedSink[] {
  const defined = Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined));
  const name = (kind: string, i: number, n: number) => (n > 1 ? `${kind}-${i + 1}` : kind);
  const out: NamedSink[] = [];
  webhooks.forEach((url, i) => {
    try {
      out.push({ name: name("webhook", i, webhooks.length), sink: new WebhookSink({ url, logger, ...defined }) });
    } catch (err) {
      throw new UsageError(`--webhook: ${errorMessage(err).replace(/^invalid webhook options: /, "")}`);
    }
  });
  jsonl.forEach((file, i) => {
    const sinkName = name("jsonl", i, jsonl.length);
    let sink: JsonlSink;
    try {
      // Opened now: a bad path refuses to start rather than failing at the first reply.
      // The daemon's JSON Lines outputs carry request events too (lines with `type`).
      sink = file === "-" ? new JsonlSink(stdout, { requests: true }) : JsonlSink.open(resolve(cwd, file), { requests: true });
    } catch (err) {
      throw new UsageError(`--jsonl: ${errorMessage(err)}`);
    }
    sink.onError = (err) =>
      logger.error(
        { sink: sinkName, file, err },
        "the JSON Lines output cannot be written: its replies are counted as failures from now on (the daemon goes on)",
      );
    out.push({ name: sinkName, sink });
  });
  return out;
}
