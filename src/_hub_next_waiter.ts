/**
 * A subscription's consumer when it is iterated: the pending `next()`.
 *
 * @module
 */

import type { SSEEvent } from "./types.ts";

/** The end of an iteration. */
export const DONE: IteratorResult<SSEEvent> = Object.freeze({
  done: true,
  value: undefined,
});

/**
 * The consumer of a pending `next()`: it takes one event, or the end. (A
 * `PushReceiver` of the stream, as a stream's body is.)
 */
export class NextWaiter {
  resolve: (result: IteratorResult<SSEEvent>) => void;
  reject: (reason: unknown) => void;

  constructor(
    resolve: (result: IteratorResult<SSEEvent>) => void,
    reject: (reason: unknown) => void,
  ) {
    this.resolve = resolve;
    this.reject = reject;
  }

  deliver(value: unknown): boolean {
    this.resolve({ value: value as SSEEvent, done: false });
    return false;
  }

  sourceEnded(failure?: { reason: unknown }): void {
    if (failure) this.reject(failure.reason);
    else this.resolve(DONE);
  }
}
