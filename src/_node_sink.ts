/**
 * How `ssekit/node` writes an adopted `createSSEStream` body to a
 * `ServerResponse` (internal): without its `ReadableStream`, and without
 * copying the bytes a hub shares between responses.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { ServerResponse } from "node:http";
import type { AdoptedSSEBody, SSESink } from "./_body_shortcuts.ts";

// A Buffer over the last chunk written, reused while the chunk is: a hub
// writes one event's bytes to thousands of responses in a row, and
// node:http would make a Buffer of them for each write.
let lastChunk: Uint8Array | undefined;
let lastBuffer: Buffer | undefined;

function asBuffer(chunk: Uint8Array): Buffer {
  if (chunk !== lastChunk) {
    lastChunk = chunk;
    lastBuffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  return lastBuffer!;
}

// Writes a createSSEStream body straight to the response, with the demand
// the body asks for standing in for a stream's: more while the socket takes
// it, none while it waits for "drain".
export class ResponseSink implements SSESink {
  res: ServerResponse;
  body: AdoptedSSEBody;
  /** Written out as given: node:http neither changes nor keeps a chunk. */
  readonly keepsBytesIntact = true;
  open = true;
  full = false;
  /** Resolves the pump's wait for "drain", while there is one. */
  wake: (() => void) | undefined = undefined;

  constructor(res: ServerResponse, body: AdoptedSSEBody) {
    this.res = res;
    this.body = body;
  }

  get desiredSize(): number {
    return this.full ? 0 : 1;
  }

  enqueue(chunk: Uint8Array): void {
    if (!this.open || this.res.write(asBuffer(chunk)) || this.full) return;
    this.full = true;
    // A "drain" listener only while waiting: an idle stream keeps none.
    this.res.once("drain", () => {
      this.full = false;
      this.wake?.();
    });
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.res.end();
  }

  /** The body gave the client up (its stallTimeout): drop the connection. */
  error(): void {
    if (!this.open) return;
    this.open = false;
    this.res.destroy();
    this.wake?.();
  }

  /** The client left: nothing more is written, and the body is cancelled. */
  cancel(reason: unknown): void {
    if (!this.open) return;
    this.open = false;
    this.body.cancel(reason);
    this.wake?.();
  }

  /** Writes the head, then the body to its end or the client's leaving. */
  async pump(): Promise<void> {
    // The head goes out with the first line, which the body writes at once,
    // in one write: apart, they would cost every accept a system call more.
    // Corked rather than left to the first res.write, which sends the head
    // too but keeps more of each idle response (about 0.5 KiB on Node 20).
    const socket = this.res.socket;
    socket?.cork();
    this.res.flushHeaders();
    this.body.begin(this);
    socket?.uncork();
    while (this.open && !this.body.finished) {
      if (this.full) {
        await new Promise<void>((resolve) => this.wake = resolve);
        this.wake = undefined;
      } else await this.body.pull();
    }
    // A body ends by closing its sink; this is for one that did not.
    this.close();
  }
}
