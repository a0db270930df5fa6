/**
 * {@linkcode createSSEStream}: a source of events in, a production-ready
 * `text/event-stream` `Response` out.
 *
 * @module
 */

import { formatEvent, type FormatEventOptions } from "./encode.ts";
import type { SSEEvent } from "./types.ts";
import { describe, isThenable } from "./describe.ts";

/** What a stream can be made of: events (objects or strings) from any kind of sequence. */
export type SSESource =
  | AsyncIterable<SSEEvent | string>
  | Iterable<SSEEvent | string | PromiseLike<SSEEvent | string>>
  | ReadableStream<SSEEvent | string>;

/**
 * A source, or a function that makes one from a signal that aborts when the
 * stream ends early (the client left, `options.signal` aborted, or the
 * source failed), so the producer can stop its own work.
 */
export type SSESourceInit =
  | SSESource
  | ((signal: AbortSignal) => SSESource | PromiseLike<SSESource>);

/** Options for {@linkcode createSSEStream}. */
export interface SSEStreamOptions extends FormatEventOptions {
  /** Extra response headers, merged over the SSE defaults. Hop-by-hop headers are rejected. */
  headers?: HeadersInit;
  /** The response status. @default {200} */
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
  /** A reconnection delay (ms) sent as the first line of the stream. */
  retry?: number;
  /**
   * Decides what the client sees when the source throws or yields an invalid
   * event: an event to send before the stream ends, or nothing. The default
   * logs the error with `console.error` and sends `event: error` with a
   * generic message that reveals nothing of the error.
   */
  onError?: (error: unknown) => SSEEvent | string | void;
}

/** The default {@linkcode SSEStreamOptions.keepAlive} interval in milliseconds. */
export const DEFAULT_KEEP_ALIVE = 5_000;

const GENERIC_ERROR: SSEEvent = {
  event: "error",
  data: "The event stream failed",
};

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

interface Cursor {
  /** True when `next()` answers synchronously (a sync iterable). */
  sync: boolean;
  next(): IteratorResult<unknown> | PromiseLike<IteratorResult<unknown>>;
  close(reason: unknown): unknown;
}

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

function openSource(source: unknown): Cursor {
  const candidate = source as Record<PropertyKey, unknown> | null;
  if (typeof candidate?.getReader === "function") {
    const reader = (source as ReadableStream<unknown>).getReader();
    return {
      sync: false,
      next: () => reader.read() as Promise<IteratorResult<unknown>>,
      close: (reason) => reader.cancel(reason),
    };
  }
  if (typeof candidate?.[Symbol.asyncIterator] === "function") {
    const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    return {
      sync: false,
      next: () => iterator.next(),
      close: () => iterator.return?.(),
    };
  }
  if (
    typeof source === "object" &&
    typeof candidate?.[Symbol.iterator] === "function"
  ) {
    const iterator = (source as Iterable<unknown>)[Symbol.iterator]();
    return {
      sync: true,
      next: () => iterator.next(),
      close: () => iterator.return?.(),
    };
  }
  throw new TypeError(
    `Invalid SSE source: expected an async iterable, an iterable, a ReadableStream or a function returning one, got ${
      describe(source)
    }`,
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
    headers.set(name, value);
  });
  return headers;
}

function keepAliveInterval(value: number | false | undefined): number {
  if (value === undefined) return DEFAULT_KEEP_ALIVE;
  if (value === false) return 0;
  if (typeof value !== "number" || !(value > 0 && value <= MAX_TIMEOUT)) {
    throw new RangeError(
      `Invalid keepAlive option: expected false or milliseconds in (0, ${MAX_TIMEOUT}], got ${
        String(value)
      }`,
    );
  }
  return value;
}

function defaultOnError(error: unknown): SSEEvent {
  console.error("ssekit: the event source failed:", error);
  return GENERIC_ERROR;
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
 * - **Errors:** a throwing source or an invalid event ends the stream
 *   cleanly after the event `options.onError` returns; nothing is thrown
 *   into the server.
 *
 * @example Streaming from Deno.serve
 * ```ts ignore
 * import { createSSEStream } from "@ssekit/ssekit";
 *
 * Deno.serve((request) =>
 *   createSSEStream(async function* () {
 *     for (let i = 0; ; i++) {
 *       yield { event: "tick", id: i, data: { now: Date.now() } };
 *       await new Promise((resolve) => setTimeout(resolve, 1000));
 *     }
 *   }(), { signal: request.signal })
 * );
 * ```
 *
 * @param source The events: an async iterable, an iterable, a
 * `ReadableStream`, or a function `(signal) => one of those`.
 * @param options Headers, status, keep-alive, retry hint, serialization,
 * cancellation and error handling.
 * @returns A `Response` with SSE headers and a streaming body.
 * @throws {TypeError} When the source is not a supported kind, an option
 * header is hop-by-hop, or `retry` is invalid.
 * @throws {RangeError} When `keepAlive` is out of range.
 */
export function createSSEStream(
  source: SSESourceInit,
  options: SSEStreamOptions = {},
): Response {
  const headers = responseHeaders(options.headers);
  const keepAlive = keepAliveInterval(options.keepAlive);
  const prelude = options.retry === undefined
    ? ":\n"
    : formatEvent({ retry: options.retry });
  const makeSource = typeof source === "function" ? source : undefined;
  let cursor = makeSource ? undefined : openSource(source);

  const { signal } = options;
  const aborter = new AbortController();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let finished = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Whole events formatted but not yet enqueued, and a count of events
  // appended so far that tells the idle watcher whether more are arriving.
  let pending = "";
  // The shared encoding of the pending text, while it is one shared event.
  let pendingShared: Encoded | undefined;
  let appended = 0;
  let watching = false;
  // The task that ends a long burst, while the watcher waits for it.
  let burstTask: unknown;

  // One timer per stream that checks how long the stream has been idle:
  // re-arming a timer on every write costs more than the write on some
  // runtimes once thousands of streams share one event.
  let lastWrite = 0;
  const ping = () => {
    const idle = Date.now() - lastWrite;
    if (idle < keepAlive) {
      timer = setTimeout(ping, keepAlive - idle);
      return;
    }
    // A reader that stopped reading gets no pile of comments.
    if (controller.desiredSize! > 0) write(encoder.encode(":\n"));
    timer = setTimeout(ping, keepAlive);
  };
  const write = (bytes: Uint8Array) => {
    controller.enqueue(bytes);
    lastWrite = Date.now();
  };
  const append = (text: string, shared?: Encoded) => {
    pendingShared = pending === "" ? shared : undefined;
    pending += text;
  };
  const flush = () => {
    if (pending === "") return;
    // Each stream gets its own copy: a server may transfer what it writes.
    const bytes = pendingShared
      ? pendingShared.bytes.slice()
      : encoder.encode(pending);
    pending = "";
    pendingShared = undefined;
    write(bytes);
  };
  // Flushes the pending events once IDLE_TURNS microtask turns pass without
  // another event, so a burst shares a chunk but nothing waits on the future;
  // a long burst is flushed by the next task instead (see BURST_TURNS).
  const watch = () => {
    let seen = appended;
    let idle = 0;
    let busy = 0;
    const turn = () => {
      if (finished || pending === "") {
        watching = false;
      } else if (appended !== seen) {
        seen = appended;
        idle = 0;
        if (++busy < BURST_TURNS) RESOLVED.then(turn);
        else burstTask = setTask(endBurst);
      } else if (++idle < IDLE_TURNS) {
        RESOLVED.then(turn);
      } else {
        watching = false;
        flush();
      }
    };
    watching = true;
    RESOLVED.then(turn);
  };
  const endBurst = () => {
    burstTask = undefined;
    watching = false;
    if (!finished) flush();
  };
  const finish = () => {
    finished = true;
    clearTimeout(timer);
    if (burstTask !== undefined) clearTask(burstTask);
    signal?.removeEventListener("abort", onAbort);
  };
  // Ends the stream early: the client left, the signal aborted, or the
  // source failed. The producer is told through both `return()` and the
  // signal a function source received.
  const stop = (reason: unknown) => {
    finish();
    aborter.abort(reason);
    const open = cursor;
    if (open) quietly(() => open.close(reason));
  };
  const fail = (error: unknown, closeSource: boolean) => {
    if (finished) return;
    let reply: SSEEvent | string | void;
    try {
      reply = (options.onError ?? defaultOnError)(error);
    } catch {
      reply = GENERIC_ERROR;
    }
    if (reply !== undefined) {
      try {
        append(formatEvent(reply, options));
      } catch {
        append(formatEvent(GENERIC_ERROR));
      }
    }
    flush();
    if (closeSource) stop(error);
    else {
      finish();
      aborter.abort(error);
    }
    controller.close();
  };
  function onAbort() {
    if (finished) return;
    flush();
    stop(signal!.reason);
    controller.close();
  }

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      // Not write(): the keep-alive timer starts with the first read, so a
      // Response that is never consumed holds no timer.
      c.enqueue(encoder.encode(prelude));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort);
    },
    async pull(c) {
      if (keepAlive && timer === undefined) {
        lastWrite = Date.now();
        timer = setTimeout(ping, keepAlive);
      }
      if (!cursor) {
        let made: unknown;
        try {
          made = await makeSource!(aborter.signal);
          if (finished) return quietly(() => openSource(made).close(undefined));
          cursor = openSource(made);
        } catch (error) {
          return fail(error, false);
        }
      }
      const { sync } = cursor;
      for (;;) {
        let item: unknown;
        try {
          let step = cursor.next();
          if (!sync) step = await step;
          if (finished) return;
          const result = step as IteratorResult<unknown>;
          if (result.done) {
            flush();
            finish();
            return c.close();
          }
          item = result.value;
          if (sync && isThenable(item)) {
            item = await item;
            if (finished) return;
          }
        } catch (error) {
          return fail(error, false);
        }
        let text: string;
        let shared: Encoded | undefined;
        try {
          if (typeof item === "string") text = formatEvent(item);
          else {
            shared = sharedEncoding(item);
            text = shared?.text ??
              (item as Partial<FormattedEvents> | null)?.[FORMATTED] ??
              formatEvent(item as SSEEvent, options);
          }
        } catch (error) {
          return fail(error, true);
        }
        if (text !== "") {
          append(text, shared);
          appended++;
          if (pending.length >= CHUNK_CHARS) flush();
          else if (!watching) watch();
        }
        // Pending text is flushed by the watcher even after we return, so
        // demand alone decides whether to take another event.
        if (c.desiredSize! <= 0) return;
      }
    },
    cancel(reason) {
      if (finished) return;
      pending = "";
      stop(reason);
    },
  });
  return new Response(body, { status: options.status ?? 200, headers });
}
