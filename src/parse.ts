/**
 * The wire decoder: {@linkcode SSEDecoderStream} turns `text/event-stream`
 * bytes (or text) into {@linkcode SSEMessage}s, {@linkcode parseSSE} does it
 * for a `Response` or a `ReadableStream` as an async iterator, and
 * {@linkcode EventStreamInterpreter} is the state machine under both, for
 * code that does its own I/O.
 *
 * All follow the WHATWG HTML standard's "interpreting an event stream"
 * algorithm (§9.2.6) exactly, so they see what a browser's `EventSource`
 * would: the same line ends, fields, `lastEventId` and dispatch rules. The
 * algorithm itself lives in `_interpreter.ts` and the three files of its
 * steps; this file is the public API and its documentation, which is why
 * it is longer than its code (over ~150 lines).
 *
 * @module
 */

import type { SSEMessage } from "./types.ts";
import {
  DEFAULT_MAX_EVENT_SIZE,
  Interpreter,
  type SSEDecoderOptions,
} from "./_interpreter.ts";
import { readMessages } from "./_read_messages.ts";
import type {
  SSEEventMap,
  TypedReadOptions,
  TypedSSEMessage,
} from "./events.ts";
import { messageDecoder } from "./_message_decoder.ts";

// Re-exported so this module's documentation stands on its own.
export type { SSEMessage };
export { DEFAULT_MAX_EVENT_SIZE, type SSEDecoderOptions };

/**
 * The state machine of §9.2.6 "interpreting an event stream", without any
 * I/O: chunks of bytes or text in through
 * {@linkcode EventStreamInterpreter.push}, each dispatched
 * message out through the `emit` callback, synchronously. It is what
 * {@linkcode SSEDecoderStream} and {@linkcode parseSSE} run on, for code
 * that reads the bytes itself (a reconnecting client, another transport).
 *
 * Decoding, line ends, fields, `lastEventId` and `maxEventSize` behave as
 * {@linkcode SSEDecoderStream} describes. After a `push` or `end` throws,
 * the interpreter must not be used again.
 *
 * @example Feeding chunks by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventStreamInterpreter, type SSEMessage } from "@ssekit/ssekit";
 *
 * const messages: SSEMessage[] = [];
 * const interpreter = new EventStreamInterpreter({}, (m) => messages.push(m));
 * interpreter.push(new TextEncoder().encode("id: 7\ndata: a\n"));
 * interpreter.push("\n");
 * interpreter.end();
 * assert.deepEqual(messages, [
 *   { type: "message", data: "a", lastEventId: "7", id: "7" },
 * ]);
 * // The id to send as Last-Event-ID when reconnecting:
 * assert.equal(interpreter.lastEventId, "7");
 * ```
 */
export class EventStreamInterpreter {
  #core: Interpreter;

  /**
   * Creates an interpreter for one connection.
   *
   * @param options Callbacks for `retry` fields and comments, the last event
   * id to resume from, and the size limit.
   * @param emit Called with each dispatched message, synchronously from
   * {@linkcode EventStreamInterpreter.push}.
   * @throws {TypeError} When an option has the wrong type.
   * @throws {RangeError} When `maxEventSize` is not a positive integer or
   * `Infinity`.
   */
  constructor(
    options: SSEDecoderOptions | undefined,
    emit: (message: SSEMessage) => void,
  ) {
    this.#core = new Interpreter(options, emit);
  }

  /**
   * The last event ID string: the id in force as of the last dispatch (a
   * blank line), or the `lastEventId` option before any. This is what a
   * reconnection sends as `Last-Event-ID`; an `id` field whose event has
   * not been dispatched yet does not count.
   */
  get lastEventId(): string {
    return this.#core.lastEventId;
  }

  /**
   * Interprets the next chunk of the stream, calling `emit` for each event
   * it completes.
   *
   * @param chunk Bytes (UTF-8) or text; the two may be mixed.
   * @throws {RangeError} When a line or an event's data outgrows
   * `maxEventSize`.
   * @throws {TypeError} When the chunk is neither bytes nor a string.
   */
  push(chunk: Uint8Array | string): void {
    this.#core.push(chunk);
  }

  /**
   * Ends the stream: an unterminated line or an event without its blank
   * line is discarded, as the standard says.
   *
   * @throws {RangeError} When an unterminated line held back as bytes turns
   * out to outgrow `maxEventSize`.
   */
  end(): void {
    this.#core.end();
  }
}

/**
 * A `TransformStream` from `text/event-stream` bytes (or text) to the
 * messages an `EventSource` would dispatch, per the WHATWG HTML standard's
 * "interpreting an event stream" (§9.2.6).
 *
 * Bytes are decoded as UTF-8 (invalid sequences become U+FFFD) exactly as
 * one decoder over the whole stream would, so characters split between
 * chunks stay whole; a BOM is stripped at the start of the stream only.
 * CR, LF and CRLF end lines, also when CR and LF arrive in different
 * chunks, and an event is dispatched as soon as its blank line arrives. An
 * event still open when the input ends is discarded, as the standard says.
 *
 * The stream errors with a `RangeError` when a line or an event's data
 * outgrows {@linkcode SSEDecoderOptions.maxEventSize}, and with a
 * `TypeError` on a chunk that is neither a `Uint8Array` nor a string.
 *
 * @example Decoding a fetch response
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSSEStream, SSEDecoderStream } from "@ssekit/ssekit";
 * import { serve } from "@ssekit/ssekit/node"; // or any server
 *
 * const server = await serve(
 *   () => createSSEStream([{ event: "greet", id: 1, data: "hi" }]),
 *   { hostname: "127.0.0.1", port: 0 },
 * );
 * const response = await fetch(server.url);
 * const messages = [];
 * for await (const message of response.body!.pipeThrough(new SSEDecoderStream())) {
 *   messages.push(message);
 * }
 * assert.deepEqual(messages, [{ type: "greet", data: "hi", lastEventId: "1", id: "1" }]);
 * await server.close();
 * ```
 *
 * @example Decoding text
 * ```ts
 * import assert from "node:assert/strict";
 * import { SSEDecoderStream } from "@ssekit/ssekit";
 *
 * const reader = ReadableStream.from(["event: greet\ndata: hi\n\n"])
 *   .pipeThrough(new SSEDecoderStream())
 *   .getReader();
 * const { value } = await reader.read();
 * assert.deepEqual(value, { type: "greet", data: "hi", lastEventId: "" });
 * ```
 */
export class SSEDecoderStream
  extends TransformStream<Uint8Array | string, SSEMessage> {
  /**
   * Creates the stream.
   *
   * @param options Callbacks for `retry` fields and comments, the last event
   * id to resume from, and the size limit.
   * @throws {TypeError} When an option has the wrong type.
   * @throws {RangeError} When `maxEventSize` is not a positive integer or
   * `Infinity`.
   */
  constructor(options?: SSEDecoderOptions) {
    let controller!: TransformStreamDefaultController<SSEMessage>;
    const interpreter = new Interpreter(
      options,
      (message) => controller.enqueue(message),
    );
    super({
      start(c) {
        controller = c;
      },
      transform(chunk) {
        interpreter.push(chunk);
      },
      flush() {
        interpreter.end();
      },
    });
  }
}

/**
 * Reads the messages of a `text/event-stream` `Response` or
 * `ReadableStream`, decoded as {@linkcode SSEDecoderStream} does.
 *
 * The body is read only when the next message is asked for, so a slow
 * consumer never makes it buffer. Leaving a `for await` loop early (`break`,
 * `return` or a throw) cancels the body. A `Response` without a body yields
 * nothing. The status and `Content-Type` are not checked: that is up to the
 * caller.
 *
 * @example Reading a fetch response
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSSEStream, parseSSE } from "@ssekit/ssekit";
 * import { serve } from "@ssekit/ssekit/node"; // or any server
 *
 * const server = await serve(
 *   () => createSSEStream(["a", "b", { event: "done", data: "" }, "not read"]),
 *   { hostname: "127.0.0.1", port: 0 },
 * );
 * const response = await fetch(server.url, {
 *   headers: { Accept: "text/event-stream" },
 * });
 * const data = [];
 * for await (const message of parseSSE(response)) {
 *   if (message.type === "done") break; // cancels the body
 *   data.push(message.data);
 * }
 * assert.deepEqual(data, ["a", "b"]);
 * await server.close();
 * ```
 *
 * @example Reading a stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSSE } from "@ssekit/ssekit";
 *
 * const body = ReadableStream.from(["id: 1\ndata: a\n\n", "data: b\n\n"]);
 * const read = [];
 * for await (const { data, lastEventId } of parseSSE(body)) {
 *   read.push([data, lastEventId]);
 * }
 * assert.deepEqual(read, [["a", "1"], ["b", "1"]]);
 * ```
 *
 * @param input The response, or its body.
 * @param options Callbacks for `retry` fields and comments, the last event
 * id to resume from, and the size limit.
 * @returns An async iterator of the messages; `return()` cancels the body.
 * @throws {TypeError} When `input` is neither a `Response` nor a
 * `ReadableStream`, its body is locked, or an option has the wrong type.
 * @throws {RangeError} When `maxEventSize` is invalid. A line or event over
 * the limit rejects the iterator's `next()` with a `RangeError` instead.
 */
export function parseSSE<M extends SSEEventMap>(
  input: Response | ReadableStream<Uint8Array> | ReadableStream<string>,
  options: SSEDecoderOptions & TypedReadOptions<M>,
): AsyncIterableIterator<TypedSSEMessage<M>>;
/**
 * Reads the messages of an untyped stream: see the typed form above.
 *
 * @param input The response, or its body.
 * @param options Callbacks, the id to resume from, and the size limit.
 * @returns An async iterator of the messages; `return()` cancels the body.
 */
export function parseSSE(
  input: Response | ReadableStream<Uint8Array> | ReadableStream<string>,
  options?: SSEDecoderOptions,
): AsyncIterableIterator<SSEMessage>;
export function parseSSE(
  input: Response | ReadableStream<Uint8Array> | ReadableStream<string>,
  options?: SSEDecoderOptions & Partial<TypedReadOptions<SSEEventMap>>,
): AsyncIterableIterator<SSEMessage | TypedSSEMessage<SSEEventMap>> {
  if (options?.events === undefined) return readMessages(input, options);
  const { events, onInvalid, ...rest } = options;
  const decode = messageDecoder("parseSSE", { events, onInvalid });
  return readMessages(input, rest, decode) as AsyncIterableIterator<
    TypedSSEMessage<SSEEventMap>
  >;
}
