/**
 * {@linkcode createSSEStream}: a source of events in, a production-ready
 * `text/event-stream` `Response` out. The body's parts are internal:
 * _sse_body.ts wires them. (Over ~150 lines by the documentation of the
 * public types and of createSSEStream, which users read here.)
 *
 * @module
 */

import type { FormatEventOptions } from "./encode.ts";
import type { SSEEvent } from "./types.ts";
import type { SSEEventMap, SSEEvents, TypedSSEEvent } from "./events.ts";
import type { SSEHookOptions } from "./hooks.ts";
import { offerForAdoption } from "./_body_shortcuts.ts";
import { SSEResponse } from "./_sse_response.ts";
import { type AnyStreamOptions, streamSettings } from "./_stream_options.ts";
import { openInto } from "./_source_reader.ts";
import { SSEBody } from "./_sse_body.ts";
import { HookedSSEBody } from "./_hooked_body.ts";

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

const DEFAULTS = {
  keepAlive: DEFAULT_KEEP_ALIVE,
  stallTimeout: DEFAULT_STALL_TIMEOUT,
};

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
  options: AnyStreamOptions = {},
): Response {
  const settings = streamSettings(options, DEFAULTS);
  const { keepAlive, stallTimeout } = settings;
  const { hooks } = options;
  let body: SSEBody;
  if (hooks === undefined) body = new SSEBody(options, keepAlive, stallTimeout);
  else {
    const hooked = new HookedSSEBody(options, keepAlive, stallTimeout, hooks);
    hooked.preludeBytes = settings.prelude.length;
    body = hooked;
  }
  body.typed = options.events !== undefined;
  if (typeof source === "function") {
    body.makeSource = source;
    // Only a function source is given a signal, so only it pays for one.
    body.aborter = new AbortController();
  } else {
    openInto(body, source);
  }
  // High-water mark 0: nothing is pulled ahead of the server's reads, so
  // a server that stops reading (its socket is full) holds no chunk of ours.
  const stream = new ReadableStream<Uint8Array>(body, { highWaterMark: 0 });
  // Not write(): keep-alive checks start with the first read, so a Response
  // that is never consumed is never scheduled.
  body.controller.enqueue(settings.prelude);
  const { signal } = options;
  if (signal?.aborted) body.handleEvent();
  else signal?.addEventListener("abort", body);
  offerForAdoption(stream, body);
  return new SSEResponse(stream, {
    status: settings.status,
    headers: settings.headers,
  }, body);
}
