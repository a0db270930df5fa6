/**
 * The body of a {@linkcode createSSEStream} response: one object holding a
 * stream's state, wiring its source reader (_source_reader.ts), coalescer
 * (_coalescer.ts) and watchdog (_stream_watchdog.ts), and ending the
 * stream once, whichever way it ends. (Over ~150 lines by the fields of
 * those parts, which must all be one object's; see `SSEBody`.)
 *
 * @module
 */

import type { SSECloseReason } from "./hooks.ts";
import type { SSEStreamOptions } from "./stream.ts";
import { unschedule } from "./_stream_timer.ts";
import type { SharedClock } from "./_shared_clock.ts";
import {
  type AdoptedSSEBody,
  type Encoded,
  encoder,
  type SSESink,
} from "./_body_shortcuts.ts";
import type { SourceKind, SourceReader } from "./_source_kind.ts";
import {
  closeReader,
  deliver,
  pullSource,
  type Reading,
  sourceEnded,
  unlisten,
} from "./_source_reader.ts";
import { flush, stopWatching } from "./_coalescer.ts";
import { checkClocks, pulled } from "./_stream_watchdog.ts";
import { errorEventText } from "./_error_event.ts";
import { prelude } from "./_stream_options.ts";

/**
 * A stream's state and the algorithms of its body, in one object: the
 * underlying source of the body's ReadableStream, and the listener of
 * `options.signal` (through `handleEvent`). Methods on a class and
 * functions on its fields cost nothing per stream, where a closure per
 * step, or an object per part, would cost each idle stream its own.
 */
export class SSEBody
  implements UnderlyingDefaultSource<Uint8Array>, AdoptedSSEBody, Reading {
  controller!: SSESink;
  options: SSEStreamOptions;
  keepAlive: number;
  stallTimeout: number;
  typed = false;
  // The source reader's fields (see Reading).
  kind: SourceKind = "none";
  reader: SourceReader | undefined;
  makeSource: ((signal: AbortSignal) => unknown) | undefined;
  aborter: AbortController | undefined;
  finished = false;
  // The watchdog's fields (see Watched), and its timer's (see Timed).
  lastWrite = 0;
  quiet = true;
  blockedAt = 0;
  clock: SharedClock | undefined = undefined;
  slot = -1;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  due = 0;
  spent: ReturnType<typeof setTimeout> | undefined = undefined;
  spentDelay = 0;
  // The coalescer's fields (see Coalescing).
  pending = "";
  pendingShared: Encoded | undefined = undefined;
  exposed = false;
  appended = 0;
  watching = false;
  /**
   * Whether a read of the body's stream waits for events: set by the
   * stream's pull, cleared when events are enqueued. Undefined on an
   * adopted body, whose sink tells its demand through desiredSize.
   */
  wanted: boolean | undefined = undefined;
  burstTask: unknown = undefined;
  listening = false;
  parked: (() => void) | undefined = undefined;

  constructor(
    options: SSEStreamOptions,
    keepAlive: number,
    stallTimeout: number,
  ) {
    this.options = options;
    this.keepAlive = keepAlive;
    this.stallTimeout = stallTimeout;
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = controller;
    this.wanted = false;
  }

  begin(sink: SSESink): void {
    this.controller = sink;
    this.wanted = undefined;
    sink.enqueue(encoder.encode(prelude(this.options)));
  }

  // The controller a stream passes is `controller` already. The stream's
  // high-water mark is 0, so it pulls only while a read waits; an adopted
  // body's pump pulls without a controller.
  pull(controller?: unknown): Promise<void> | void {
    if (controller) this.wanted = true;
    pulled(this);
    return pullSource(this);
  }

  deliver(value: unknown, more: boolean): boolean {
    return deliver(this, value, more);
  }

  sourceEnded(failure?: { reason: unknown }): void {
    sourceEnded(this, failure);
  }

  tick(now: number): void {
    checkClocks(this, now);
  }

  // The coalescer's (see Coalescing), here because it is on every event's
  // path: not a call more.
  append(text: string, shared?: Encoded): void {
    this.pendingShared = this.pending === "" ? shared : undefined;
    this.pending += text;
  }

  comment(): void {
    this.write(encoder.encode(":\n"));
  }

  write(bytes: Uint8Array): boolean {
    try {
      this.controller.enqueue(bytes);
    } catch (error) {
      // The runtime closed the body's stream without cancelling it (Deno
      // does when a client resets the connection): the client is gone.
      this.cancel(error);
      return false;
    }
    this.lastWrite = Date.now();
    return true;
  }

  // Ends the body, unless the runtime closed it already (see write).
  end(): void {
    try {
      this.controller.close();
    } catch {
      // Nothing is left to end.
    }
  }

  complete(): void {
    flush(this);
    this.finish("done");
    this.end();
  }

  fail(error: unknown, sourceOpen: boolean): void {
    if (this.finished) return;
    const text = errorEventText(error, this.options);
    if (text !== undefined) this.append(text);
    flush(this);
    this.stop(error, sourceOpen, "error");
    this.end();
  }

  /** The abort listener of `options.signal`. */
  handleEvent(): void {
    if (this.finished) return;
    flush(this);
    this.stop(this.options.signal!.reason, true, "aborted");
    this.end();
  }

  cancel(reason: unknown): void {
    if (this.finished) return;
    this.pending = "";
    this.stop(reason, true, "client-left");
  }

  abandon(reason: unknown): void {
    this.pending = "";
    this.stop(reason, true, "stalled");
    try {
      this.controller.error(reason);
    } catch {
      // Already closed by the runtime: the connection is gone anyway.
    }
  }

  // Ends the stream early: the client left, the signal aborted, the source
  // failed or the client stalled. The producer is told through both
  // `return()` and the signal a function source received; a source whose
  // read failed has ended already and is not closed again.
  stop(reason: unknown, sourceOpen: boolean, why: SSECloseReason): void {
    if (this.finished) return;
    this.finish(why, reason);
    this.aborter?.abort(reason);
    if (sourceOpen) closeReader(this, reason);
  }

  // `reason` and `error` are for HookedSSEBody, which reports them. An
  // ended stream leaves no timer behind, the burst's task included.
  finish(_reason: SSECloseReason, _error?: unknown): void {
    this.finished = true;
    unschedule(this);
    unlisten(this);
    stopWatching(this);
    this.options.signal?.removeEventListener("abort", this);
  }
}
