/**
 * Repair: recover what the live stream did not deliver from the server's own
 * record (`GET /session/:id/message`, `GET /session/status`).
 *
 * Two triggers: the shared stream had a gap and is back (`onResync`), or a frame
 * of this session was lost (over the frame cap — a long answer's final text — or
 * unreadable). The record is fed to the codec as full-text updates while live
 * events wait, then the waiting events are replayed, so whatever was missed is
 * emitted once; a turn that finished meanwhile ends with its true terminal reply.
 */
import type { Logger } from "pino";
import { beginResync, endResync } from "../codec/control.js";
import type { ParsedEvent } from "../codec/events.js";
import { answerFinished, idleEvent, recordEvents, type RecordMessage } from "../codec/record.js";
import type { ErrorCode } from "../codec/reply.js";
import type { StreamIssue } from "../stream/sse.js";
import type { TurnState } from "../codec/state.js";
import type { Clock } from "../util/clock.js";
import type { Dialect } from "./dialect.js";
import { errorMessage } from "../util/errors.js";

/** After a gap, an idle session with no finished answer is looked at again this often, this many times. */
const RECHECK_MS = 500;
const MAX_RECHECKS = 6;
/** Lost frames repaired per turn; past this, a lost frame ends the turn `protocol` (the codec's rule). */
const MAX_LOST_REPAIRS = 8;

export interface RepairHost {
  /** Feed one event to the turn (as if live). */
  take(evt: ParsedEvent): void;
  /** Hand a lost frame to the turn (as if live). */
  lost(issue: StreamIssue): void;
  end(code: ErrorCode, message: string): void;
  /** The turn has ended. */
  over(): boolean;
}

type Waiting = { evt: ParsedEvent; issue?: undefined } | { evt?: undefined; issue: StreamIssue };

export class Repair {
  /** While repairing: live events wait here. */
  private buffer: Waiting[] | undefined;
  private armed = false;
  private rechecks = 0;
  private lostRepairs = 0;
  /** The record being read and fed, while it is. */
  private current: Promise<unknown> | undefined;

  constructor(
    private readonly state: TurnState,
    private readonly sessionId: string,
    private readonly dialect: Dialect,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly host: RepairHost,
  ) {}

  /** The prompt is about to be sent: from now on a gap may hide this turn's events. */
  arm(): void {
    this.armed = true;
  }

  /** A repair is running: live events must wait (`hold`). */
  get holding(): boolean {
    return this.buffer !== undefined;
  }

  /** Keep a live event or lost frame until the running repair is done. */
  hold(w: Waiting): void {
    this.buffer?.push(w);
  }

  /** The stream is gone for good: a running repair is moot. */
  cancel(): void {
    this.buffer = undefined;
  }

  /** The stream is back after a gap. */
  resynced(): void {
    // Before the prompt is on its way nothing of this turn can have been missed.
    if (this.armed) void this.run();
  }

  /** A frame was lost: repair from the record when it was this turn's; false when the codec must judge it. */
  lostFrame(issue: StreamIssue): boolean {
    if (!this.armed || issue.sessionID !== this.sessionId || this.lostRepairs >= MAX_LOST_REPAIRS) return false;
    this.lostRepairs++;
    this.log.warn({ issue: issue.code, event_type: issue.type }, "lost a frame of this turn: repairing from the server's record");
    void this.run();
    return true;
  }

  /**
   * Read the server's record and feed it to the codec as full-text updates while
   * live events wait, then replay the waiting events. Returns the record read
   * (undefined when the turn ended meanwhile). Throws when the record cannot be read.
   */
  private applyRecord(): Promise<RecordMessage[] | undefined> {
    const p = this.readAndFeed();
    this.current = p;
    const clear = () => {
      if (this.current === p) this.current = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  private async readAndFeed(): Promise<RecordMessage[] | undefined> {
    this.buffer = [];
    beginResync(this.state);
    try {
      const messages = await this.dialect.sessionMessages(this.sessionId, 200);
      if (this.host.over()) return undefined;
      // The record becomes the events the reducer consumes (src/codec/record.ts), as live events would.
      for (const e of recordEvents(this.sessionId, messages)) this.host.take(e);
      return messages;
    } finally {
      endResync(this.state);
      const waiting = this.buffer ?? [];
      this.buffer = undefined;
      for (const w of waiting) {
        if (w.evt !== undefined) this.host.take(w.evt);
        else this.host.lost(w.issue);
      }
    }
  }

  /**
   * The server's record of the session becomes full-text updates for the codec,
   * then the live events that arrived meanwhile are replayed, then the session's
   * status tells whether the turn has ended.
   */
  private async run(): Promise<void> {
    if (this.buffer) return; // a repair is already running; it will see the newer events
    try {
      const [messages, status] = await Promise.all([this.applyRecord(), this.dialect.sessionStatus()]);
      if (messages === undefined || this.host.over()) return;
      const s = status[this.sessionId];
      if (s === undefined || s.type === "idle") {
        if (answerFinished(messages, this.state.userMessageId) || this.rechecks >= MAX_RECHECKS) {
          // Idle, with the answer complete in the record: the turn ended during the gap
          // (its idle was lost with it).
          this.host.take(idleEvent(this.sessionId));
        } else {
          // Idle but no finished answer yet: the prompt may not have started running when
          // the record was read. Look again shortly rather than end the turn empty.
          this.rechecks++;
          this.clock.setTimeout(() => void this.run(), RECHECK_MS);
        }
      }
      this.log.info({ messages: messages.length, done: this.host.over() }, "repaired after a gap");
    } catch (err) {
      this.host.end("transport", `could not recover the turn after a gap in the event stream: ${errorMessage(err)}`);
    }
  }

  /**
   * The stream says the turn ended well (the codec holds its `final`): read the
   * server's record once, repair from it what the stream missed (text, reasoning,
   * tool calls and results), and say whether the record shows the answer finished.
   * - "finished": every assistant message answering the prompt is completed (or failed);
   * - "running": not finished, and the server says the session is still busy;
   * - "lost": not finished and the session is idle: no event will ever finish it
   *   (the server restarted mid-turn, or lost the run).
   */
  async verifyEnd(): Promise<"finished" | "running" | "lost" | "over"> {
    // A repair that is running finishes first (its record is older than the one read here).
    while (this.current) await this.current.catch(() => undefined);
    const messages = await this.applyRecord();
    if (messages === undefined || this.host.over()) return "over";
    if (answerFinished(messages, this.state.userMessageId)) return "finished";
    const s = (await this.dialect.sessionStatus())[this.sessionId];
    return s === undefined || s.type === "idle" ? "lost" : "running";
  }
}
