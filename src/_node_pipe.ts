/**
 * How `ssekit/node` writes a `Response` body that it reads as a stream
 * (internal): any body but an adopted `createSSEStream` one, read only as
 * fast as the client takes it.
 *
 * @module
 */

import type { ServerResponse } from "node:http";

const noop = () => {};

/**
 * Cancels a body that will not be read, with nobody to tell if the
 * cancelling fails.
 */
export function discard(
  body: ReadableStream | ReadableStreamDefaultReader | null | undefined,
  reason?: unknown,
): void {
  body?.cancel(reason).catch(noop);
}

// Writes each chunk the reader gives to the response, waiting for "drain"
// whenever the socket is full, until the body ends or the client leaves.
export class BodyPipe {
  res: ServerResponse;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  onError: (error: unknown) => void;
  open = true;
  /** Resolves the pump's wait for "drain", while there is one. */
  wake: (() => void) | undefined = undefined;

  constructor(
    res: ServerResponse,
    reader: ReadableStreamDefaultReader<Uint8Array>,
    onError: (error: unknown) => void,
  ) {
    this.res = res;
    this.reader = reader;
    this.onError = onError;
  }

  /** The client left: nothing more is written, and the body is cancelled. */
  cancel(reason: unknown): void {
    if (!this.open) return;
    this.open = false;
    discard(this.reader, reason);
    this.wake?.();
  }

  /** Writes the head, then the body to its end or the client's leaving. */
  async pump(): Promise<void> {
    const { res, reader } = this;
    // The head goes out now, not with the first chunk of a body that may
    // take a while (an SSE stream's first event).
    res.flushHeaders();
    // Cleared once written: a suspended async function keeps its variables,
    // and an idle stream would keep its last chunk.
    let chunk: ReadableStreamReadResult<Uint8Array> | undefined;
    try {
      for (;;) {
        chunk = await reader.read();
        if (chunk.done) break;
        const full = !res.write(chunk.value);
        chunk = undefined;
        if (full && this.open) {
          // A "drain" listener only while waiting: an idle stream keeps none.
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            res.once("drain", resolve);
          });
          this.wake = undefined;
        }
      }
    } catch (error) {
      if (!this.open) return;
      this.onError(error);
      // Ending cleanly would tell the client it has the whole body.
      return void res.destroy();
    }
    if (this.open) res.end();
  }
}
