/**
 * The body of a {@linkcode createSSEStream} response.
 *
 * @module
 */

import { formatEvent } from "./encode.ts";
import type { SSEEvent } from "./types.ts";
import { jsonEvent } from "./events.ts";
import { isThenable } from "./_checks.ts";
import { schedule, type Timed, unschedule } from "./_stream_timer.ts";
import type { SSECloseReason, SSELogger } from "./hooks.ts";
import type { SSEStreamOptions } from "./stream.ts";
import {
  type AdoptedSSEBody,
  type Encoded,
  encoder,
  FORMATTED,
  type FormattedEvents,
  type PushReceiver,
  type PushSource,
  sharedEncoding,
  type SSESink,
} from "./_body_shortcuts.ts";
import {
  closeSource,
  openSource,
  type SourceKind,
  sourceKind,
  type SourceReader,
} from "./_source_reader.ts";
import {
  BURST_TURNS,
  CHUNK_CHARS,
  clearTask,
  IDLE_TURNS,
  RESOLVED,
  setTask,
} from "./_coalescer.ts";
import { prelude } from "./_stream_options.ts";

// JSON, because OpenAI-compatible clients (the official SDKs among them)
// parse every data line as JSON before they look at the event type, and
// turn `{ error: { message, type } }` into their API error.
const GENERIC_ERROR: SSEEvent = Object.freeze({
  event: "error",
  data: '{"error":{"message":"The event stream failed","type":"server_error"}}',
});

function defaultOnError(error: unknown, logger: SSELogger): SSEEvent {
  logger.error("ssekit: the event source failed:", error);
  return GENERIC_ERROR;
}

/**
 * A stream's state and the algorithms of its body, in one object: the
 * underlying source of the body's ReadableStream, and the listener of
 * `options.signal` (through `handleEvent`). Methods on a class cost nothing
 * per stream, where a closure per step would cost each idle stream its own
 * functions and their context.
 */
export class SSEBody
  implements
    UnderlyingDefaultSource<Uint8Array>,
    AdoptedSSEBody,
    PushReceiver,
    Timed {
  controller!: SSESink;
  options: SSEStreamOptions;
  keepAlive: number;
  stallTimeout: number;
  /** A typed stream: every event's data goes as JSON. */
  typed = false;
  /** The source once opened: its kind and reader. */
  kind: SourceKind = "none";
  reader: SourceReader | undefined;
  /** A function source, until it has made the source. */
  makeSource: ((signal: AbortSignal) => unknown) | undefined;
  /** The signal given to a function source; only those need one. */
  aborter: AbortController | undefined;
  finished = false;
  // The next keep-alive check checks how long the stream has been idle:
  // rescheduling on every write costs more than the write on some runtimes
  // once thousands of streams share one event.
  lastWrite = 0;
  /** Since when output has waited for demand (0: it has not). */
  blockedAt = 0;
  /** The keep-alive and stall timer (see `tick` and _stream_timer.ts). */
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  due = 0;
  spent: ReturnType<typeof setTimeout> | undefined = undefined;
  spentDelay = 0;
  /** Whole events formatted but not yet enqueued. */
  pending = "";
  /** The shared encoding of the pending text, while it is one shared event. */
  pendingShared: Encoded | undefined = undefined;
  /** Events appended so far: tells the idle watcher whether more arrive. */
  appended = 0;
  watching = false;
  /**
   * Whether a read of the body's stream waits for events: set by the
   * stream's pull, cleared when events are enqueued. Undefined on an
   * adopted body, whose sink tells its demand through desiredSize.
   */
  wanted: boolean | undefined = undefined;
  /** The task that ends a long burst, while the watcher waits for it. */
  burstTask: unknown = undefined;
  /** A pushing source may hand events to `deliver` (see `listen`). */
  listening = false;
  /** Resolves an adopted body's pull once it stops listening. */
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

  /** The timer's check at `now`: stalled, then idle, then the next check. */
  tick(now: number): void {
    const { blockedAt, keepAlive, stallTimeout } = this;
    if (blockedAt !== 0 && now - blockedAt >= stallTimeout) {
      return this.abandon(stallTimeout);
    }
    let next = Infinity;
    if (keepAlive) {
      const idle = now - this.lastWrite;
      if (idle < keepAlive) next = keepAlive - idle;
      else {
        next = keepAlive;
        // A reader that stopped reading gets no pile of comments: a sink
        // takes one while it has room, the stream (high-water mark 0)
        // while its queue is empty, so one at most waits for the reader.
        const demand = this.controller.desiredSize!;
        if (demand > 0 || (demand === 0 && this.wanted !== undefined)) {
          this.comment();
        }
      }
    }
    if (this.blockedAt !== 0) {
      next = Math.min(next, this.blockedAt + stallTimeout - now);
    }
    if (next !== Infinity && !this.finished) schedule(this, next);
  }

  // Output waits for a client that takes nothing: the stall clock starts.
  blocked(): void {
    if (this.stallTimeout === 0 || this.blockedAt !== 0) return;
    const now = this.blockedAt = Date.now();
    if (this.timer !== undefined && this.due <= now + this.stallTimeout) {
      return;
    }
    unschedule(this);
    schedule(this, this.stallTimeout);
  }

  // The client took nothing for stallTimeout ms: as if it had left, and the
  // connection is dropped, since ending it would wait on the same client.
  abandon(stallTimeout: number): void {
    const reason = new DOMException(
      `The client took nothing for ${stallTimeout} ms while events waited (stallTimeout); the stream was given up`,
      "TimeoutError",
    );
    this.pending = "";
    this.stop(reason, true, "stalled");
    try {
      this.controller.error(reason);
    } catch {
      // Already closed by the runtime: the connection is gone anyway.
    }
  }

  /** Writes a keep-alive comment. */
  comment(): void {
    this.write(encoder.encode(":\n"));
  }

  // Whether the bytes were written.
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

  append(text: string, shared?: Encoded): void {
    this.pendingShared = this.pending === "" ? shared : undefined;
    this.pending += text;
  }

  flush(): void {
    if (this.pending === "") return;
    // Bytes shared by many streams are copied for a stream's reader: a
    // stream's consumer may change or transfer the chunks it reads (the
    // fetch standard lets a user agent detach them, whatwg/fetch#330),
    // which would take the event from every other stream.
    const shared = this.pendingShared;
    const bytes = shared === undefined
      ? encoder.encode(this.pending)
      : this.controller.keepsBytesIntact
      ? shared.bytes
      : shared.bytes.slice();
    this.pending = "";
    this.pendingShared = undefined;
    if (this.wanted) this.wanted = false;
    this.write(bytes);
  }

  // Flushes the pending events once IDLE_TURNS microtask turns pass without
  // another event, so a burst shares a chunk but nothing waits on the
  // future; a long burst is flushed by the next task instead (see
  // BURST_TURNS).
  watch(): void {
    let seen = this.appended;
    let idle = 0;
    let busy = 0;
    const turn = () => {
      if (this.finished || this.pending === "") {
        this.watching = false;
      } else if (this.appended !== seen) {
        seen = this.appended;
        idle = 0;
        if (++busy < BURST_TURNS) RESOLVED.then(turn);
        else this.burstTask = setTask(() => this.endBurst());
      } else if (++idle < IDLE_TURNS) {
        RESOLVED.then(turn);
      } else {
        this.watching = false;
        this.flush();
      }
    };
    this.watching = true;
    RESOLVED.then(turn);
  }

  endBurst(): void {
    this.burstTask = undefined;
    this.watching = false;
    if (!this.finished) this.flush();
  }

  // `reason` and `error` are for HookedSSEBody, which reports them.
  finish(_reason: SSECloseReason, _error?: unknown): void {
    this.finished = true;
    unschedule(this);
    this.unlisten();
    // An ended stream leaves no timer behind, the burst's task included.
    if (this.burstTask !== undefined) clearTask(this.burstTask);
    this.options.signal?.removeEventListener("abort", this);
  }

  // Ends the stream early: the client left, the signal aborted, or the
  // source failed. The producer is told through both `return()` and the
  // signal a function source received; a source whose read failed has
  // ended already and is not closed again.
  stop(
    reason: unknown,
    sourceOpen: boolean,
    why: SSECloseReason,
  ): void {
    if (this.finished) return;
    this.finish(why, reason);
    this.aborter?.abort(reason);
    if (sourceOpen && this.reader) closeSource(this.kind, this.reader, reason);
  }

  fail(error: unknown, sourceOpen: boolean): void {
    if (this.finished) return;
    const { options } = this;
    let reply: SSEEvent | string | void;
    try {
      reply = options.onError
        ? options.onError(error)
        : defaultOnError(error, options.logger ?? console);
    } catch {
      reply = GENERIC_ERROR;
    }
    if (reply !== undefined) {
      try {
        this.append(formatEvent(reply, options));
      } catch {
        this.append(formatEvent(GENERIC_ERROR));
      }
    }
    this.flush();
    this.stop(error, sourceOpen, "error");
    this.end();
  }

  /** The abort listener of `options.signal`. */
  handleEvent(): void {
    if (this.finished) return;
    this.flush();
    this.stop(this.options.signal!.reason, true, "aborted");
    this.end();
  }

  // The controller a stream passes is `controller` already. The stream's
  // high-water mark is 0, so it pulls only while a read waits; an adopted
  // body's pump pulls without a controller.
  pull(controller?: unknown): Promise<void> | void {
    if (controller) this.wanted = true;
    this.blockedAt = 0;
    if (this.keepAlive && this.timer === undefined && !this.finished) {
      this.lastWrite = Date.now();
      schedule(this, this.keepAlive);
    }
    return this.reader ? this.consume() : this.open();
  }

  consume(): Promise<void> | void {
    return this.kind === "pushes" ? this.listen() : this.read();
  }

  // Asks a pushing source for events, which it hands to `deliver` at once,
  // with no promise, watcher or iterator result per event. A stream's pull
  // need not wait for them; an adopted body's pump waits until the body
  // stops taking events (its sink is full) or ends, and then pulls again.
  listen(): Promise<void> | void {
    this.listening = true;
    (this.reader as PushSource).pushTo(this);
    if (!this.listening || this.wanted !== undefined) return;
    return new Promise((resolve) => this.parked = resolve);
  }

  unlisten(): void {
    this.listening = false;
    const parked = this.parked;
    if (parked === undefined) return;
    this.parked = undefined;
    parked();
  }

  // The source knows whether more is ready, so the text is flushed as soon
  // as nothing is: no watcher needed to find out.
  deliver(value: unknown, more: boolean): boolean {
    if (!this.finished && this.take(value, false)) {
      if (!more) this.flush();
      if (
        !this.finished && (this.wanted || this.controller.desiredSize! > 0)
      ) return true;
    }
    this.unlisten();
    if (!this.finished) this.blocked();
    return false;
  }

  sourceEnded(failure?: { reason: unknown }): void {
    this.unlisten();
    if (this.finished) return;
    if (failure) this.fail(failure.reason, false);
    else this.complete();
  }

  // The source is done: what is pending goes out, then the end.
  complete(): void {
    this.flush();
    this.finish("done");
    this.end();
  }

  // Makes the source of a function source, at the first read.
  async open(): Promise<void> {
    try {
      const made = await this.makeSource!(this.aborter!.signal);
      this.makeSource = undefined;
      const kind = sourceKind(made);
      if (this.finished) {
        return closeSource(kind, openSource(kind, made), undefined);
      }
      this.reader = openSource(kind, made);
      this.kind = kind;
    } catch (error) {
      return this.fail(error, false);
    }
    return this.consume();
  }

  // Takes events while the body has demand. Kept small, and the formatting
  // out of it, because an idle stream waits inside it: a suspended async
  // function keeps a slot for every local it has.
  async read(): Promise<void> {
    const sync = this.kind === "sync";
    for (;;) {
      // The step and the item are overwritten before every wait: the
      // suspended function keeps its variables, and an idle stream must
      // not keep its last event.
      let item: unknown;
      try {
        let step:
          | IteratorResult<unknown>
          | PromiseLike<IteratorResult<unknown>> = this.kind === "reader"
            ? (this.reader as ReadableStreamDefaultReader<unknown>)
              .read() as Promise<IteratorResult<unknown>>
            : (this.reader as Iterator<unknown>).next();
        if (!sync) step = await step;
        if (this.finished) return;
        if ((step as IteratorResult<unknown>).done) return this.complete();
        item = (step as IteratorResult<unknown>).value;
        step = undefined!;
        if (sync && isThenable(item)) {
          item = await item;
          if (this.finished) return;
        }
      } catch (error) {
        return this.fail(error, false);
      }
      // Pending text is flushed by the watcher even after we return, so
      // demand alone decides whether to take another event: a waiting read
      // not yet answered, or room in the sink.
      if (!this.take(item, true)) return;
      if (!this.wanted && this.controller.desiredSize! <= 0) {
        return this.blocked();
      }
    }
  }

  // Formats an event into the pending text, and has the watcher flush it
  // if `watch`; false when it ended the stream.
  take(item: unknown, watch: boolean): boolean {
    let text: string;
    let shared: Encoded | undefined;
    try {
      if (this.typed) item = jsonEvent(item as SSEEvent | string);
      if (typeof item === "string") text = formatEvent(item);
      else {
        shared = sharedEncoding(item);
        text = shared?.text ??
          (item as Partial<FormattedEvents> | null)?.[FORMATTED] ??
          formatEvent(item as SSEEvent, this.options);
      }
    } catch (error) {
      this.fail(error, true);
      return false;
    }
    if (text !== "") {
      this.append(text, shared);
      this.appended++;
      if (this.pending.length >= CHUNK_CHARS) this.flush();
      else if (watch && !this.watching) this.watch();
    }
    return true;
  }

  cancel(reason: unknown): void {
    if (this.finished) return;
    this.pending = "";
    this.stop(reason, true, "client-left");
  }
}
