// The daemon under benchmark, built (dist/), in its own process so that its RSS is its own:
//   node bench/lib/daemon-child.mjs <opencode-url> <webhook-url | -> <token> [<state-dir>]     (- : no webhook)
//   BENCH_WEBHOOK_BATCH=1: the webhook in batch mode (docs/daemon.md)
// prints {"url": …} once listening; shuts down on SIGTERM. With a state directory the daemon journals
// (docs/daemon.md, crash safety), as `opencode-bridge serve` always does.
import { tmpdir } from "node:os";
import { BridgeDaemon, ExternalUpstream } from "../../dist/daemon/index.js";
import { WebhookSink } from "../../dist/sink/webhook.js";

const [opencodeUrl, webhookUrl, token, stateDir] = process.argv.slice(2);
const directory = tmpdir();
const daemon = new BridgeDaemon({
  host: "127.0.0.1",
  port: 0,
  token,
  directory,
  ...(stateDir ? { stateDir } : {}),
  // bench/daemon.ts --store: the shared PostgreSQL store instead of the journal.
  ...(process.env.BENCH_STORE ? { store: process.env.BENCH_STORE } : {}),
  maxActiveTurns: 1000,
  upstream: new ExternalUpstream({ baseUrl: opencodeUrl }, directory),
  outputs: webhookUrl === "-" ? [] : [{ name: "webhook", sink: new WebhookSink({ url: webhookUrl, ...(process.env.BENCH_WEBHOOK_BATCH === "1" ? { batch: {} } : {}) }) }],
});
const { url } = await daemon.start();
process.stdout.write(`${JSON.stringify({ url })}\n`);
process.once("SIGTERM", () => void daemon.shutdown("SIGTERM").then(() => process.exit(0)));
