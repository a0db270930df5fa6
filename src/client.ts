/**
 * {@linkcode connectSSE}: a fetch-based, reconnecting `EventSource` for code
 * that needs what `EventSource` cannot do: any method, a request body,
 * headers (fresh on every connect), a custom `fetch`, and an async iterator
 * instead of callbacks.
 *
 * It follows the processing model of the WHATWG HTML standard's
 * `EventSource` (§9.2): what counts as an open connection, when to
 * reconnect, the `Last-Event-ID` header, and the `retry` field.
 *
 * (Over ~150 lines: it is the public types of a connection and its
 * options, each documented with an example; the connection itself is
 * `_connection.ts`, and `connectSSE` only checks and hands over.)
 *
 * @module
 */

import type { SSEMessage } from "./types.ts";
import type {
  SSEEventMap,
  TypedReadOptions,
  TypedSSEMessage,
} from "./events.ts";
import { messageDecoder } from "./_message_decoder.ts";
import type { SSEHookOptions } from "./hooks.ts";
import { Connection } from "./_connection.ts";

/**
 * What a request body can be: anything `fetch` can send more than once.
 *
 * @example A form body, sent again on every reconnection
 * ```ts
 * import type { SSERequestBody } from "@ssekit/ssekit";
 *
 * const body: SSERequestBody = new URLSearchParams({ prompt: "Hello" });
 * ```
 */
export type SSERequestBody =
  | string
  | ArrayBuffer
  | ArrayBufferView
  | Blob
  | FormData
  | URLSearchParams;

/**
 * When and how often {@linkcode connectSSE} reconnects.
 *
 * @example Retrying overloaded servers, ten times at most
 * ```ts
 * import type { SSEReconnectOptions } from "@ssekit/ssekit";
 *
 * const reconnect: SSEReconnectOptions = { retryStatus: true, maxAttempts: 10, maxBackoff: 60_000 };
 * ```
 */
export interface SSEReconnectOptions {
  /**
   * The reconnection time before the server sends a `retry` field, in
   * milliseconds.
   *
   * @default {3000}
   */
  delay?: number;
  /**
   * The base of the exponential backoff added to the reconnection time: the
   * n-th consecutive failed attempt adds a random wait of up to
   * `backoff × 2ⁿ` ms ("full jitter"), so clients that lost the same server
   * come back spread out. An open connection resets n. `0` turns it off.
   *
   * @default {1000}
   */
  backoff?: number;
  /** The most the backoff part of a wait can be, in milliseconds. @default {30000} */
  maxBackoff?: number;
  /**
   * How many connection attempts in a row may fail before iteration throws
   * the last error. An open connection resets the count.
   *
   * @default {Infinity}
   */
  maxAttempts?: number;
  /**
   * Whether a 408, 429 or 5xx response is retried (honouring `Retry-After`)
   * instead of failing for good, as the standard prescribes. A function
   * decides per status.
   *
   * @default {false}
   */
  retryStatus?: boolean | ((status: number) => boolean);
}

/**
 * Options for {@linkcode connectSSE}.
 *
 * @example A POST with a token and timeouts
 * ```ts
 * import type { ConnectSSEInit } from "@ssekit/ssekit";
 *
 * const init: ConnectSSEInit = {
 *   method: "POST",
 *   headers: { Authorization: "Bearer token" },
 *   body: JSON.stringify({ prompt: "Hello" }),
 *   idleTimeout: 60_000,
 *   reconnect: { maxAttempts: 5 },
 * };
 * ```
 */
export interface ConnectSSEInit
  extends
    Omit<RequestInit, "body" | "headers" | "method" | "signal">,
    SSEHookOptions {
  /** The request method. @default {"GET"} */
  method?: string;
  /**
   * Request headers, or a function (sync or async) called before every
   * connection attempt, so an expiring token can be refreshed.
   */
  headers?: HeadersInit | (() => HeadersInit | PromiseLike<HeadersInit>);
  /**
   * The request body, or a function (sync or async) returning a fresh one
   * for every attempt. A `ReadableStream` body cannot be replayed on
   * reconnection, so it is only accepted from a function.
   */
  body?:
    | SSERequestBody
    | (() =>
      | SSERequestBody
      | ReadableStream<Uint8Array>
      | PromiseLike<SSERequestBody | ReadableStream<Uint8Array>>);
  /** The last event id to resume from, sent as `Last-Event-ID` on the first connect. */
  lastEventId?: string;
  /** Reconnection policy; `false` never reconnects. */
  reconnect?: SSEReconnectOptions | false;
  /**
   * Milliseconds without any bytes (comments count) after which the
   * connection is considered dead, aborted, and reestablished. Without a
   * `connectTimeout`, it also bounds the wait for the response head.
   */
  idleTimeout?: number;
  /**
   * The most milliseconds an attempt waits for the response head (status
   * line and headers), from the start of its fetch. A server that accepts
   * the connection and never answers, or answers too slowly, fails the
   * attempt as a network error does: the request is aborted and the
   * connection reestablished as `reconnect` says, the attempt counting
   * towards `maxAttempts`; after the last one, iteration throws a
   * `DOMException` named `"TimeoutError"`, as `AbortSignal.timeout` does.
   * Defaults to
   * `idleTimeout` when that is given, else 30 s; `Infinity` waits for ever,
   * as `EventSource` does. Raise it for a server that holds its head back
   * until its first event (some LLM gateways do while the model thinks).
   *
   * @default {30000}
   */
  connectTimeout?: number;
  /** Closes the connection, as {@linkcode SSEConnection.close} does. */
  signal?: AbortSignal;
  /** The `fetch` to use. @default {globalThis.fetch} */
  fetch?: (input: Request) => Promise<Response>;
  /**
   * Called with every response that opens the stream (status 200,
   * `text/event-stream`), before its messages are read. If it throws, the
   * connection fails for good with that error.
   */
  onOpen?: (response: Response) => void | PromiseLike<void>;
  /** The largest line or event accepted, as in `SSEDecoderOptions.maxEventSize`. */
  maxEventSize?: number;
}

/**
 * A connection to a typed stream (see `defineEvents`): its messages' data
 * is decoded (and validated, with schemas), and checking `type` narrows it.
 *
 * @example Narrowing a typed connection's messages
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectSSE, createSSEStream, defineEvents } from "@ssekit/ssekit";
 *
 * const chat = defineEvents<{ token: string; done: null }>();
 * const server = () =>
 *   Promise.resolve(createSSEStream([{ event: "token", data: "Hi" }, { event: "done", data: null }], { events: chat }));
 * const tokens: string[] = [];
 * for await (const message of connectSSE("https://chat.example/", { events: chat, fetch: server })) {
 *   if (message.type === "done") break;
 *   tokens.push(message.data); // a string: the type narrowed it
 * }
 * assert.deepEqual(tokens, ["Hi"]);
 * ```
 */
export interface TypedSSEConnection<M extends SSEEventMap>
  extends AsyncIterableIterator<TypedSSEMessage<M>> {
  /** The URL the connection (re)connects to. */
  readonly url: string;
  /** 0 connecting, 1 open, 2 closed, as `EventSource.readyState`. */
  readonly readyState: SSEReadyState;
  /** The last event id received, sent as `Last-Event-ID` when reconnecting. */
  readonly lastEventId: string;
  /** Ends iteration at once, aborting any request in flight; idempotent. */
  close(): void;
}

/**
 * The ready states of {@linkcode SSEConnection}, as `EventSource` numbers them.
 *
 * @example Closed or not
 * ```ts
 * import type { SSEReadyState } from "@ssekit/ssekit";
 *
 * const closed = (state: SSEReadyState): boolean => state === 2;
 * ```
 */
export type SSEReadyState = 0 | 1 | 2;

/**
 * A live event stream: an async iterator of messages that reconnects by
 * itself until closed.
 *
 * @example Closing a connection
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectSSE, createSSEStream, type SSEConnection } from "@ssekit/ssekit";
 *
 * const connection: SSEConnection = connectSSE("https://news.example/", {
 *   fetch: () => Promise.resolve(createSSEStream([{ id: 1, data: "first" }])),
 * });
 * const { value } = await connection.next();
 * assert.equal(value?.data, "first");
 * assert.equal(connection.lastEventId, "1");
 * connection.close();
 * assert.equal(connection.readyState, 2);
 * ```
 */
export interface SSEConnection extends AsyncIterableIterator<SSEMessage> {
  /** The URL the connection (re)connects to. */
  readonly url: string;
  /** 0 connecting, 1 open, 2 closed, as `EventSource.readyState`. */
  readonly readyState: SSEReadyState;
  /** The last event id received, sent as `Last-Event-ID` when reconnecting. */
  readonly lastEventId: string;
  /** Ends iteration at once, aborting any request in flight; idempotent. */
  close(): void;
}

/**
 * Connects to an event stream with `fetch` and returns its messages as an
 * async iterator that reconnects by itself, as `EventSource` does, but with
 * any method, body and headers.
 *
 * - A status of 200 with a `text/event-stream` `Content-Type` opens the
 *   stream; 204 ends iteration cleanly; anything else fails for good with an
 *   {@linkcode SSEResponseError} (unless `reconnect.retryStatus` opts into
 *   retrying 408, 429 and 5xx).
 * - A network error or the end of the body reconnects to the original URL
 *   after the reconnection time (the server's `retry`, 3 s by default) plus
 *   a jittered exponential backoff, sending `Last-Event-ID` as UTF-8.
 * - No response head within `connectTimeout` (30 s by default), or no bytes
 *   for `idleTimeout` once open, counts as a network error.
 * - Messages are read from the network only as the loop asks for them.
 * - `close()`, `signal`, or leaving the loop ends iteration at once and
 *   aborts the request in flight.
 *
 * @example Streaming an LLM reply from a POST endpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectSSE, createSSEStream } from "@ssekit/ssekit";
 *
 * // A token that may change between reconnections (an OAuth refresh).
 * const getToken = async () => "t0ken";
 * // Here the API is a fetch handler; in an app, leave `fetch` out.
 * const api = async (request: Request) => {
 *   assert.equal(request.headers.get("Authorization"), "Bearer t0ken");
 *   const { prompt } = await request.json();
 *   return createSSEStream([{ data: { text: `${prompt} back` } }, "[DONE]"]);
 * };
 *
 * const stream = connectSSE("https://api.example.com/v1/chat", {
 *   method: "POST",
 *   headers: async () => ({ Authorization: `Bearer ${await getToken()}` }),
 *   body: JSON.stringify({ prompt: "Hello" }),
 *   fetch: api,
 * });
 * const replies = [];
 * for await (const message of stream) {
 *   if (message.data === "[DONE]") break;
 *   replies.push(JSON.parse(message.data));
 * }
 * assert.deepEqual(replies, [{ text: "Hello back" }]);
 * ```
 *
 * @param input The URL (or a `Request` whose URL, method and headers are the
 * defaults) to connect to.
 * @param init The request, reconnection policy and hooks.
 * @returns The connection: an async iterator of messages with `close()`,
 * `readyState` and `lastEventId`.
 * @throws {TypeError} When the body is a `ReadableStream` (it cannot be
 * replayed: pass a function returning a fresh one) or `fetch` is missing.
 * @throws {RangeError} When a numeric option is out of range.
 */
export function connectSSE<M extends SSEEventMap>(
  input: string | URL | Request,
  init: ConnectSSEInit & TypedReadOptions<M>,
): TypedSSEConnection<M>;
/**
 * Connects to an untyped stream: see the typed form above.
 *
 * @param input The URL or `Request` to connect to.
 * @param init The request, reconnection policy and hooks.
 * @returns The connection: an async iterator of messages.
 */
export function connectSSE(
  input: string | URL | Request,
  init?: ConnectSSEInit,
): SSEConnection;
export function connectSSE(
  input: string | URL | Request,
  init: ConnectSSEInit & Partial<TypedReadOptions<SSEEventMap>> = {},
): SSEConnection | TypedSSEConnection<SSEEventMap> {
  const { events, onInvalid, ...rest } = init;
  // Checked before the connection listens on the caller's signal.
  const decode = events === undefined
    ? undefined
    : messageDecoder("connectSSE", { events, onInvalid });
  return new Connection(input, rest, decode);
}
