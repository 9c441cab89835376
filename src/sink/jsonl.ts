/** Writes each reply as one JSON line to a stream (stdout by default) or a file. */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { Reply } from "../codec/reply.js";
import type { SinkObject } from "./types.js";

export class JsonlSink implements SinkObject {
  private readonly out: Writable;
  private readonly owned: boolean;

  constructor(target: Writable | string = process.stdout) {
    if (typeof target === "string") {
      this.out = createWriteStream(target, { flags: "a" });
      this.owned = true;
    } else {
      this.out = target;
      this.owned = false;
    }
  }

  async deliver(reply: Reply): Promise<void> {
    // Respect backpressure: wait for 'drain' when the stream's buffer is full.
    if (!this.out.write(`${JSON.stringify(reply)}\n`)) await once(this.out, "drain");
  }

  async close(): Promise<void> {
    if (this.owned) await new Promise<void>((resolve) => this.out.end(() => resolve()));
  }
}
