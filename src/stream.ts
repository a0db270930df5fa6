/**
 * {@linkcode createSSEStream}: a source of events in, a production-ready
 * `text/event-stream` `Response` out.
 *
 * @module
 */

import { formatEvent, type FormatEventOptions } from "./encode.ts";
import type { SSEEvent } from "./types.ts";
import {
  checkEvents,
  jsonEvent,
  type SSEEventMap,
  type SSEEvents,
  type TypedSSEEvent,
} from "./events.ts";
import {
  checkCallback,
  checkOption,
  describe,
  isObject,
  isThenable,
} from "./_checks.ts";
import { schedule, type Timed, unschedule } from "./_stream_timer.ts";
import {
  callHook,
  checkHookOptions,
  type SSECloseReason,
  type SSEHookOptions,
  type SSEHooks,
  type SSELogger,
} from "./hooks.ts";

/**
 * What a stream can be made of: events (objects or strings) from any kind of sequence.
 *
 * @example Three kinds of source
 * ```ts
 * import type { SSESource } from "@ssekit/ssekit";
 *
 * const fromArray: SSESource = ["one", { event: "two", data: 2 }];
 * const fromGenerator: SSESource = (async function* () {
 *   yield "three";
 * })();
 * const fromStream: SSESource = ReadableStream.from(["four"]);
 * ```
 */
export type SSESource<E = SSEEvent | string> =
  | AsyncIterable<E>
  | Iterable<E | PromiseLike<E>>
  | ReadableStream<E>;

/**
 * A source, or a function that makes one from a signal that aborts when the
 * stream ends early (the client left, `options.signal` aborted, or the
 * source failed), so the producer can stop its own work.
 *
 * @example A producer that stops when the client leaves
 * ```ts
 * import type { SSESourceInit } from "@ssekit/ssekit";
 *
 * const ticks: SSESourceInit = async function* (signal: AbortSignal) {
 *   while (!signal.aborted) {
 *     yield { event: "tick", data: Date.now() };
 *     await new Promise((resolve) => setTimeout(resolve, 1_000));
 *   }
 * };
 * ```
 */
export type SSESourceInit<E = SSEEvent | string> =
  | SSESource<E>
  | ((signal: AbortSignal) => SSESource<E> | PromiseLike<SSESource<E>>);

/**
 * Options for {@linkcode createSSEStream}.
 *
 * @example CORS, a slower keep-alive and a custom error event
 * ```ts
 * import type { SSEStreamOptions } from "@ssekit/ssekit";
 *
 * const options: SSEStreamOptions = {
 *   headers: { "Access-Control-Allow-Origin": "*" },
 *   keepAlive: 15_000,
 *   onError: () => ({ event: "error", data: "Something went wrong" }),
 * };
 * ```
 */
export interface SSEStreamOptions extends FormatEventOptions, SSEHookOptions {
  /** Extra response headers, merged over the SSE defaults. Hop-by-hop headers are rejected. */
  headers?: HeadersInit;
  /**
   * The response status: an integer from 200 to 599 that allows a body
   * (not 204, 205 or 304). @default {200}
   */
  status?: number;
  /** Ends the stream and the source when aborted, e.g. `request.signal`. */
  signal?: AbortSignal;
  /**
   * Milliseconds without a write after which a `:` comment is sent, so
   * proxies and servers (Bun closes idle sockets after 10 s) keep the
   * connection; `false` turns it off.
   *
   * @default {5000}
   */
  keepAlive?: number | false;
  /**
   * Milliseconds the client may take nothing while output waits for it (its
   * socket stopped draining) before the stream is given up: the producer is
   * stopped as on a disconnect and the connection is dropped, so a reader
   * that never reads cannot hold a connection and a suspended producer
   * forever. A reader that is merely slow still takes something within it.
   * `false` turns it off.
   *
   * @default {30000}
   */
  stallTimeout?: number | false;
  /** A reconnection delay (ms) sent as the first line of the stream. */
  retry?: number;
  /**
   * Decides what the client sees when the source throws or yields an invalid
   * event: an event to send before the stream ends, or nothing. The default
   * logs the error with `logger.error` and sends `event: error` whose
   * data is JSON in the shape OpenAI-compatible clients read,
   * `{"error":{"message":"The event stream failed","type":"server_error"}}`,
   * revealing nothing of the error.
   */
  onError?: (error: unknown) => SSEEvent | string | void;
}

/**
 * Options for {@linkcode createSSEStream} of a typed stream.
 *
 * @example Options of a typed stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSSEStream, defineEvents, type TypedSSEStreamOptions } from "@ssekit/ssekit";
 *
 * const options: TypedSSEStreamOptions<{ token: string }> = {
 *   events: defineEvents<{ token: string }>(),
 * };
 * const response = createSSEStream([{ event: "token", data: "Hi" }], options);
 * assert.equal(await response.text(), ':\nevent: token\ndata: "Hi"\n\n'); // JSON
 * ```
 */
export interface TypedSSEStreamOptions<M extends SSEEventMap>
  extends SSEStreamOptions {
  /**
   * The stream's events (`defineEvents`): the source must yield events of
   * its map (checked at compile time), and every event's data is sent as
   * JSON, strings included, as typed clients expect.
   */
  events: SSEEvents<M>;
}

/**
 * The default {@linkcode SSEStreamOptions.keepAlive} interval in milliseconds.
 *
 * @example A keep-alive three times as long
 * ```ts
 * import { createSSEStream, DEFAULT_KEEP_ALIVE } from "@ssekit/ssekit";
 *
 * const response = createSSEStream(["Hello"], { keepAlive: 3 * DEFAULT_KEEP_ALIVE });
 * await response.body?.cancel();
 * ```
 */
export const DEFAULT_KEEP_ALIVE = 5_000;

/**
 * The default {@linkcode SSEStreamOptions.stallTimeout} in milliseconds.
 *
 * @example More patience with slow clients
 * ```ts
 * import { createSSEStream, DEFAULT_STALL_TIMEOUT } from "@ssekit/ssekit";
 *
 * const response = createSSEStream(["Hello"], { stallTimeout: 2 * DEFAULT_STALL_TIMEOUT });
 * await response.body?.cancel();
 * ```
 */
export const DEFAULT_STALL_TIMEOUT = 30_000;

// JSON, because OpenAI-compatible clients (the official SDKs among them)
// parse every data line as JSON before they look at the event type, and
// turn `{ error: { message, type } }` into their API error.
const GENERIC_ERROR: SSEEvent = Object.freeze({
  event: "error",
  data: '{"error":{"message":"The event stream failed","type":"server_error"}}',
});

// Events ready within this many microtask turns of each other share a chunk.
// An async generator that does not await between yields needs about two.
const IDLE_TURNS = 8;
// Counting turns costs a promise job per turn, more than formatting a short
// event. Once this many turns of one burst have brought events, the watcher
// stops counting and waits for the next task instead: tasks run only when
// the microtask queue is empty, so the producer has stopped producing
// synchronously by then, and a long burst pays one task instead of two jobs
// per event.
const BURST_TURNS = 16;
// A coalesced chunk is flushed once it holds this many characters; 16 KiB is
// also the largest TLS record, so bigger chunks would be split anyway.
const CHUNK_CHARS = 16_384;
const MAX_TIMEOUT = 2_147_483_647;
// Scheduling a turn on a settled promise is cheaper than queueMicrotask,
// which Node wraps for async hooks; the watcher schedules one per turn.
const RESOLVED = Promise.resolve();
// The next task: setImmediate where the runtime has it (Deno, Bun, Node),
// since setTimeout(0) waits a millisecond or more; setTimeout elsewhere.
const { setImmediate: setImmediateFn, clearImmediate: clearImmediateFn } =
  globalThis as {
    setImmediate?: (callback: () => void) => unknown;
    clearImmediate?: (handle: unknown) => void;
  };
const [setTask, clearTask]: [
  (callback: () => void) => unknown,
  (handle: unknown) => void,
] = typeof setImmediateFn === "function" &&
    typeof clearImmediateFn === "function"
  ? [
    (callback) => setImmediateFn(callback),
    (handle) => clearImmediateFn(handle),
  ]
  : [
    (callback) => setTimeout(callback, 0),
    (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  ];
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
];
// A stream has no length, and its bytes are not encoded: either header
// would make a client misread where the body ends or what it holds (a
// Content-Length truncates it, or desynchronises the responses pipelined
// after it on the connection).
const MISFRAMING = ["content-length", "content-encoding"];
// Statuses whose responses have no body.
const NULL_BODY = [204, 205, 304];

interface Encoded {
  text: string;
  bytes: Uint8Array;
}

// The text and bytes of frozen events, shared by every stream that sends
// one: a hub fans one frozen entry out to thousands of streams. Freezing is
// shallow, so only events whose data is a string (or absent) qualify.
const sharedEncodings = new WeakMap<object, Encoded>();
// TextEncoder keeps no state between calls: one serves every stream.
const encoder = new TextEncoder();

function sharedEncoding(item: unknown): Encoded | undefined {
  if (typeof item !== "object" || item === null || !Object.isFrozen(item)) {
    return undefined;
  }
  const { data } = item as SSEEvent;
  if (data !== undefined && typeof data !== "string") return undefined;
  let encoded = sharedEncodings.get(item);
  if (encoded === undefined) {
    const text = formatEvent(item as SSEEvent);
    encoded = { text, bytes: encoder.encode(text) };
    sharedEncodings.set(item, encoded);
  }
  return encoded;
}

/**
 * Marks text that ssekit's own producers (the relay) already formatted and
 * validated with formatEvent, so a batch of events crosses into the stream
 * as one item. Not exported from the package: users cannot forge it.
 */
export const FORMATTED: unique symbol = Symbol("ssekit.formatted");

/** A batch of events already formatted by {@linkcode formatEvent}. */
export interface FormattedEvents {
  readonly [FORMATTED]: string;
}

/**
 * A source that hands its events to the body as they come instead of being
 * iterated: the hub's subscriptions. `pushTo(receiver)` hands the receiver
 * what is ready, and goes on handing it events as they come for as long as
 * it asks for more; `return()` ends it. A class, so only ssekit's own
 * sources (it is not exported from the package) are taken for one.
 */
export abstract class PushSource {
  /** Hands `receiver` events while it asks for more. */
  abstract pushTo(receiver: PushReceiver): void;
  /** Ends the source. */
  abstract return(): unknown;
}

/** What a {@linkcode PushSource} hands its events to: the body. */
export interface PushReceiver {
  /**
   * Takes an event; `more` says whether another is ready at once, so the
   * events ready together share a chunk. Returns whether it takes another
   * now: otherwise the source keeps its events until the next `pushTo`.
   */
  deliver(value: unknown, more: boolean): boolean;
  /** The source ended, or failed with `failure.reason`. */
  sourceEnded(failure?: { reason: unknown }): void;
}

/** Who a stream's options are given to, as option errors name it. */
const OWNER = "createSSEStream";

// How a source is read: a ReadableStream through its reader, an async
// iterable or an iterable through its iterator, a hub's pushes as they
// come; "none" until it is opened. A string on the stream rather than an
// object of closures per stream: thousands of streams sit idle at once.
type SourceKind = "none" | "reader" | "async" | "sync" | "pushes";

type SourceReader =
  | PushSource
  | ReadableStreamDefaultReader<unknown>
  | Iterator<unknown>
  | AsyncIterator<unknown>;

// Runs a cleanup whose failure has nowhere useful to go, without letting it
// become an unhandled rejection.
function quietly(cleanup: () => unknown): void {
  try {
    const result = cleanup();
    if (isThenable(result)) result.then(undefined, () => {});
  } catch {
    // The stream is over; there is no one left to tell.
  }
}

function sourceKind(source: unknown): SourceKind {
  const candidate = source as Record<PropertyKey, unknown> | null;
  if (source instanceof PushSource) return "pushes";
  if (typeof candidate?.getReader === "function") return "reader";
  if (typeof candidate?.[Symbol.asyncIterator] === "function") return "async";
  if (
    typeof source === "object" &&
    typeof candidate?.[Symbol.iterator] === "function"
  ) {
    return "sync";
  }
  throw new TypeError(
    `Invalid SSE source: expected an async iterable, an iterable, a ReadableStream or a function returning one, got ${
      describe(source)
    }`,
  );
}

function openSource(kind: SourceKind, source: unknown): SourceReader {
  return kind === "reader"
    ? (source as ReadableStream<unknown>).getReader()
    : kind === "async"
    ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
    : kind === "pushes"
    ? source as PushSource
    : (source as Iterable<unknown>)[Symbol.iterator]();
}

function closeSource(
  kind: SourceKind,
  reader: SourceReader,
  reason: unknown,
): void {
  quietly(() =>
    kind === "reader"
      ? (reader as ReadableStreamDefaultReader<unknown>).cancel(reason)
      : (reader as Iterator<unknown>).return?.()
  );
}

function responseHeaders(init: HeadersInit | undefined): Headers {
  const headers = new Headers({
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
  });
  new Headers(init).forEach((value, name) => {
    if (HOP_BY_HOP.includes(name)) {
      throw new TypeError(
        `Invalid SSE response header "${name}": hop-by-hop headers break HTTP/2 and are managed by the server; remove it`,
      );
    }
    if (MISFRAMING.includes(name)) {
      throw new TypeError(
        `Invalid SSE response header "${name}": an event stream has no length and is not encoded, so this header would make clients misread the body; remove it`,
      );
    }
    headers.set(name, value);
  });
  return headers;
}

// Milliseconds for a timer option: undefined gives the default, false 0.
function interval(
  name: string,
  value: number | false | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (value === false) return 0;
  checkOption(
    typeof value === "number" && value > 0 && value <= MAX_TIMEOUT,
    OWNER,
    name,
    `false or milliseconds in (0, ${MAX_TIMEOUT}]`,
    value,
    RangeError,
  );
  return value;
}

function responseStatus(status: number | undefined): number {
  if (status === undefined) return 200;
  checkOption(
    Number.isInteger(status) && status >= 200 && status <= 599 &&
      !NULL_BODY.includes(status),
    OWNER,
    "status",
    "an integer from 200 to 599 that allows a body (not 204, 205 or 304)",
    status,
    RangeError,
  );
  return status;
}

function checkSignal(signal: unknown): void {
  checkOption(
    signal === undefined ||
      typeof (signal as Partial<AbortSignal> | null)?.addEventListener ===
        "function",
    OWNER,
    "signal",
    "an AbortSignal",
    signal,
  );
}

function defaultOnError(error: unknown, logger: SSELogger): SSEEvent {
  logger.error("ssekit: the event source failed:", error);
  return GENERIC_ERROR;
}

/**
 * Where a body's bytes go: the controller of its `ReadableStream`, or a
 * server that adopted the body (see {@linkcode adoptSSEBody}).
 */
export interface SSESink {
  /** Whether more is wanted: the body takes events only while this is above 0. */
  readonly desiredSize: number | null;
  /** Sends bytes. */
  enqueue(chunk: Uint8Array): void;
  /**
   * Whether the sink neither changes nor hands on the bytes it is given
   * (node:http only writes them out), so bytes that many streams send (a
   * hub's event) can be given to it as they are, not copied per stream.
   */
  readonly keepsBytesIntact?: boolean;
  /** Ends the body. */
  close(): void;
  /** Gives the body up: the connection is dropped rather than ended. */
  error(reason: unknown): void;
}

/** A body taken out of its `ReadableStream` by {@linkcode adoptSSEBody}. */
export interface AdoptedSSEBody {
  /** Whether the stream is over: ended, failed or cancelled. */
  readonly finished: boolean;
  /** Starts writing to `sink`, first the stream's opening line. */
  begin(sink: SSESink): void;
  /** Takes events while the sink has demand, as a stream's `pull` does. */
  pull(): Promise<void> | void;
  /** Ends the stream early, as a stream's `cancel` does. */
  cancel(reason: unknown): void;
}

// Bodies not yet read, by their stream, for adoptSSEBody. Weak: a Response
// that is never served must not be kept.
const unread = new WeakMap<ReadableStream<Uint8Array>, SSEBody>();

function prelude(options: SSEStreamOptions): string {
  return options.retry === undefined
    ? ":\n"
    : formatEvent({ retry: options.retry });
}

/**
 * Takes the body of a {@linkcode createSSEStream} response out of its
 * `ReadableStream`, so a server that writes bytes itself (`ssekit/node`)
 * drives it directly: no stream, reader or read per chunk in between, and
 * an idle connection keeps none of them. Returns undefined for any other
 * body, or one already read, locked or ended; the stream is then read as
 * usual. Once adopted, the stream must not be read.
 */
export function adoptSSEBody(response: Response): AdoptedSSEBody | undefined {
  const stream = response.body;
  if (stream === null || response.bodyUsed || stream.locked) return undefined;
  const body = unread.get(stream);
  if (body === undefined || body.finished) return undefined;
  unread.delete(stream);
  return body;
}

/**
 * A stream's state and the algorithms of its body, in one object: the
 * underlying source of the body's ReadableStream, and the listener of
 * `options.signal` (through `handleEvent`). Methods on a class cost nothing
 * per stream, where a closure per step would cost each idle stream its own
 * functions and their context.
 */
class SSEBody
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

/**
 * A body that reports to hooks: made instead of a plain one when
 * `options.hooks` is given, so a stream without hooks runs none of this.
 * Open is reported at the first pull (the server began reading), close
 * once, from `finish`, and only after an open, so a `Response` never served
 * leaves no open stream counted.
 */
class HookedSSEBody extends SSEBody {
  hooks: SSEHooks;
  logger: SSELogger;
  /** The opening line's length, reported as sent at the open. */
  preludeBytes = 0;
  opened = false;
  /** Events appended since the last flush, and sent so far. */
  pendingEvents = 0;
  events = 0;
  bytes = 0;

  constructor(
    options: SSEStreamOptions,
    keepAlive: number,
    stallTimeout: number,
    hooks: SSEHooks,
  ) {
    super(options, keepAlive, stallTimeout);
    this.hooks = hooks;
    this.logger = options.logger ?? console;
  }

  override pull(controller?: unknown): Promise<void> | void {
    if (!this.opened && !this.finished) {
      this.opened = true;
      callHook(this.hooks, "onOpen", { side: "server" }, this.logger);
      this.sent(this.preludeBytes, 0, false);
    }
    return super.pull(controller);
  }

  sent(bytes: number, events: number, keepAlive: boolean): void {
    this.bytes += bytes;
    this.events += events;
    callHook(this.hooks, "onSend", { events, bytes, keepAlive }, this.logger);
  }

  // One text may hold many events (a relay's batch, see FORMATTED): each
  // ends in the only blank line it has, since every line of an event has
  // a field name or a colon.
  override append(text: string, shared?: Encoded): void {
    for (
      let at = text.indexOf("\n\n");
      at !== -1;
      at = text.indexOf("\n\n", at + 2)
    ) {
      this.pendingEvents++;
    }
    super.append(text, shared);
  }

  // Only flush writes through here: the keep-alive comment goes to the
  // plain write, so events still pending are not counted with it.
  override write(bytes: Uint8Array): boolean {
    const events = this.pendingEvents;
    this.pendingEvents = 0;
    const written = super.write(bytes);
    if (written) this.sent(bytes.length, events, false);
    return written;
  }

  override comment(): void {
    if (super.write(encoder.encode(":\n"))) this.sent(2, 0, true);
  }

  override fail(error: unknown, sourceOpen: boolean): void {
    if (this.finished) return;
    callHook(this.hooks, "onError", { where: "stream", error }, this.logger);
    super.fail(error, sourceOpen);
  }

  override finish(reason: SSECloseReason, error?: unknown): void {
    super.finish(reason);
    if (!this.opened) return;
    callHook(this.hooks, "onClose", {
      side: "server",
      reason,
      events: this.events,
      bytes: this.bytes,
      ...(reason === "error" || reason === "stalled" ? { error } : {}),
    }, this.logger);
  }
}

/**
 * Creates a `text/event-stream` `Response` whose body streams the events of
 * `source`, ready to return from any fetch-style handler (`Deno.serve`,
 * `Bun.serve`, Hono, Cloudflare Workers, Node through `ssekit/node`).
 *
 * - **Pull-based:** the source advances only when the body has demand, so a
 *   slow client slows the producer instead of filling memory.
 * - **Coalescing:** events that are ready at once go out in one chunk; an
 *   event is never held back waiting for a later one.
 * - **Keep-alive:** a `:` comment goes out at once (so headers flush) and
 *   after every `keepAlive` ms without a write.
 * - **Cancellation:** when the client disconnects or `options.signal`
 *   aborts, the source's `return()` (its `finally`) runs, the signal given to
 *   a function source aborts, and timers are cleared.
 * - **Stalled clients:** a client that takes nothing for `stallTimeout` ms
 *   while events wait is dropped, and the source stopped, as on a
 *   disconnect.
 * - **Errors:** a throwing source or an invalid event ends the stream
 *   cleanly after the event `options.onError` returns; nothing is thrown
 *   into the server.
 *
 * @example A tick a second, until the client leaves
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSSEStream, parseSSE } from "@ssekit/ssekit";
 *
 * // A fetch handler, for Deno.serve, Bun.serve, a Worker or serve() of
 * // "@ssekit/ssekit/node".
 * function ticks(request: Request): Response {
 *   return createSSEStream(async function* () {
 *     for (let i = 0; ; i++) {
 *       yield { event: "tick", id: i, data: { now: Date.now() } };
 *       await new Promise((resolve) => setTimeout(resolve, 1000));
 *     }
 *   }(), { signal: request.signal });
 * }
 *
 * for await (const message of parseSSE(ticks(new Request("http://localhost/")))) {
 *   assert.deepEqual([message.type, message.lastEventId], ["tick", "0"]);
 *   break; // cancels the response, which stops the generator
 * }
 * ```
 *
 * @param source The events: an async iterable, an iterable, a
 * `ReadableStream`, or a function `(signal) => one of those`.
 * @param options Headers, status, keep-alive, retry hint, serialization,
 * cancellation and error handling.
 * @returns A `Response` with SSE headers and a streaming body.
 * @throws {TypeError} When the source is not a supported kind, a header
 * is hop-by-hop or would misframe the body (`Content-Length`,
 * `Content-Encoding`), `retry` is invalid, or `signal`, `onError` or
 * `serialize` has the wrong type. Options are checked before the source is
 * touched, so a throw leaves it as it was.
 * @throws {RangeError} When `status`, `keepAlive` or `stallTimeout` is out
 * of range.
 */
export function createSSEStream<M extends SSEEventMap>(
  source: SSESourceInit<TypedSSEEvent<M>>,
  options: TypedSSEStreamOptions<M>,
): Response;
/**
 * Creates a `text/event-stream` `Response` from an untyped source: see the
 * typed form above for everything it does.
 *
 * @param source The events, or a function `(signal) => events`.
 * @param options Headers, status, keep-alive, stall timeout, retry hint,
 * serialization, cancellation and error handling.
 * @returns A `Response` with SSE headers and a streaming body.
 */
export function createSSEStream(
  source: SSESourceInit,
  options?: SSEStreamOptions,
): Response;
export function createSSEStream(
  source: SSESourceInit,
  options: SSEStreamOptions & Partial<TypedSSEStreamOptions<SSEEventMap>> = {},
): Response {
  // Every option is checked before the source is touched: a source taken
  // and then dropped by a throw here would never be closed.
  if (!isObject(options)) {
    throw new TypeError(
      `Invalid createSSEStream options: expected an object, got ${
        describe(options)
      }`,
    );
  }
  const status = responseStatus(options.status);
  const headers = responseHeaders(options.headers);
  checkSignal(options.signal);
  checkEvents(options.events, OWNER);
  checkCallback(OWNER, "onError", options.onError);
  checkCallback(OWNER, "serialize", options.serialize);
  checkHookOptions(options, OWNER);
  const keepAlive = interval(
    "keepAlive",
    options.keepAlive,
    DEFAULT_KEEP_ALIVE,
  );
  const stallTimeout = interval(
    "stallTimeout",
    options.stallTimeout,
    DEFAULT_STALL_TIMEOUT,
  );
  // An invalid retry throws here.
  const first = encoder.encode(prelude(options));
  const { hooks } = options;
  let body: SSEBody;
  if (hooks === undefined) body = new SSEBody(options, keepAlive, stallTimeout);
  else {
    const hooked = new HookedSSEBody(options, keepAlive, stallTimeout, hooks);
    hooked.preludeBytes = first.length;
    body = hooked;
  }
  body.typed = options.events !== undefined;
  if (typeof source === "function") {
    body.makeSource = source;
    // Only a function source is given a signal, so only it pays for one.
    body.aborter = new AbortController();
  } else {
    body.kind = sourceKind(source);
    body.reader = openSource(body.kind, source);
  }
  // High-water mark 0: nothing is pulled ahead of the server's reads, so
  // a server that stops reading (its socket is full) holds no chunk of ours.
  const stream = new ReadableStream<Uint8Array>(body, { highWaterMark: 0 });
  // Not write(): keep-alive checks start with the first read, so a Response
  // that is never consumed is never scheduled.
  body.controller.enqueue(first);
  const { signal } = options;
  if (signal?.aborted) body.handleEvent();
  else signal?.addEventListener("abort", body);
  unread.set(stream, body);
  return new Response(stream, { status, headers });
}
