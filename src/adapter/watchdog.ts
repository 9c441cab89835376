/**
 * The stream's liveness rule: no byte on the event stream for `ms` while someone
 * listens means the socket is dead (OpenCode sends `server.heartbeat` every 10 s),
 * and the connection is dropped so the hub reconnects and repairs. A quiet stream
 * with nobody listening is normal. One timer, re-armed for the time left.
 */
import type { Clock } from "../util/clock.js";

export class StreamWatchdog {
  private timer: unknown;
  private lastByteAt = 0;

  constructor(
    private readonly clock: Clock,
    /** 0: off. */
    private readonly ms: number,
    private readonly listening: () => boolean,
  ) {}

  /** Bytes arrived on the stream. */
  bytes(): void {
    this.lastByteAt = this.clock.now();
  }

  /** When the stream's last bytes arrived (on the hub's clock): the events being decoded now arrived then. */
  get receivedAt(): number {
    return this.lastByteAt;
  }

  /** Watch the connection that just opened; `isCurrent` false once it was replaced or closed. */
  start(isCurrent: () => boolean, onSilent: (silentMs: number) => void): void {
    this.bytes();
    const ms = this.ms;
    if (ms <= 0) return;
    const check = () => {
      if (!isCurrent()) return;
      const silent = this.clock.now() - this.lastByteAt;
      if (silent >= ms && this.listening()) {
        onSilent(silent);
        return;
      }
      this.timer = this.clock.setTimeout(check, silent >= ms ? ms : ms - silent);
    };
    this.timer = this.clock.setTimeout(check, ms);
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
