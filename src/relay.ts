/**
 * {@linkcode relaySSE}: forward an upstream event stream (an LLM API, another
 * service) to your own client, re-validated, re-encoded and cancellable.
 * Here are the public API, its options and the upstream request; the work
 * on each chunk is in `relay/_events.ts`. (Over ~150 lines: two thirds of
 * it is the API's documentation, which stays beside what it documents.)
 *
 * @module
 */

import { relayEvents } from "./relay/_events.ts";
import { checkEventStream } from "./response_error.ts";
import { createSSEStream, type SSEStreamOptions } from "./stream.ts";
import type { SSEEvent, SSEMessage } from "./types.ts";
import { checkOption, isPositive } from "./_checks.ts";
import {
  checkEvents,
  type SSEEventMap,
  type SSEEvents,
  type TypedSSEEvent,
} from "./events.ts";

/**
 * What `map` may turn one upstream message into.
 *
 * @example One event, several, or nothing
 * ```ts
 * import type { RelayMapResult, SSEMessage } from "@ssekit/ssekit";
 *
 * function map(message: SSEMessage): RelayMapResult {
 *   if (message.data === "[DONE]") return { event: "done", data: "" };
 *   if (message.type === "ping") return undefined; // dropped
 *   return message.data.split(" "); // one event per word
 * }
 * ```
 */
export type RelayMapResult<E = SSEEvent | string> =
  | E
  | Iterable<E>
  | void
  | undefined;

/**
 * What a function upstream is told besides its signal.
 *
 * @example Resuming upstream where the client resumes
 * ```ts
 * import type { RelayUpstreamContext } from "@ssekit/ssekit";
 *
 * const upstream = (signal: AbortSignal, { lastEventId }: RelayUpstreamContext) =>
 *   fetch("http://127.0.0.1:9/events", {
 *     headers: lastEventId ? { "Last-Event-ID": lastEventId } : {},
 *     signal,
 *   });
 * ```
 */
export interface RelayUpstreamContext {
  /**
   * The id the client resumes from (the relay's `lastEventId` option, `""`
   * for none): send it upstream as `Last-Event-ID` to resume there too.
   */
  lastEventId: string;
}

/**
 * The upstream: a `Response`, a promise of one, or (recommended) a function
 * that starts the request with the given signal, so the relay can abort it
 * when the client leaves, and with the id the client resumes from.
 *
 * @example A response made here, as a test's upstream might be
 * ```ts
 * import assert from "node:assert/strict";
 * import { relaySSE, type RelayUpstream } from "@ssekit/ssekit";
 *
 * const upstream: RelayUpstream = new Response("id: 7\ndata: hi\n\n", {
 *   headers: { "Content-Type": "text/event-stream" },
 * });
 * const text = await relaySSE(upstream).text();
 * assert.match(text, /data: hi\n/);
 * ```
 */
export type RelayUpstream =
  | Response
  | PromiseLike<Response>
  | ((
    signal: AbortSignal,
    context: RelayUpstreamContext,
  ) => Response | PromiseLike<Response>);

/**
 * Options for {@linkcode relaySSE}: those of `createSSEStream`, plus these.
 *
 * @example Renaming events, with a time limit and the client's resume point
 * ```ts
 * import { getLastEventId, type RelaySSEOptions } from "@ssekit/ssekit";
 *
 * const request = new Request("http://127.0.0.1/chat", {
 *   headers: { "Last-Event-ID": "41" },
 * });
 * const options: RelaySSEOptions = {
 *   map: (message) => ({ event: "token", data: message.data }),
 *   timeout: 60_000,
 *   lastEventId: getLastEventId(request),
 *   signal: request.signal,
 * };
 * ```
 */
export interface RelaySSEOptions extends SSEStreamOptions {
  /**
   * Turns each upstream message into the events to send: one event (or a
   * string), several (an array or other iterable), or nothing to drop it;
   * sync or async. Without it, messages pass through with their type, data
   * and id.
   */
  map?: (
    message: SSEMessage,
  ) => RelayMapResult | PromiseLike<RelayMapResult>;
  /**
   * Milliseconds the whole relay may take; then the upstream request is
   * aborted and the client gets the error event.
   */
  timeout?: number;
  /**
   * The id the client resumes from, usually `getLastEventId(request)`: it
   * is handed to a function upstream, and it is where the relay's tracking
   * of the client's last event id starts (see {@linkcode relaySSE}).
   * @default {""}
   */
  lastEventId?: string;
}

/**
 * Relays an upstream `text/event-stream` response to a client as a new SSE
 * `Response`: each upstream message is parsed (spec-exact), optionally
 * mapped, validated and re-encoded through `createSSEStream`, with its
 * keep-alive, backpressure and headers.
 *
 * - **Cancellation flows upstream:** when the client disconnects (or
 *   `signal` aborts), the upstream request is aborted — pass a function
 *   `(signal) => fetch(url, { signal })` so the relay owns that signal — and
 *   the upstream body is cancelled.
 * - **Resumes like a direct stream:** the upstream's `retry` fields and
 *   ids reach the client, so it holds the upstream's last event id at every
 *   event (also after an id-only block, and after a message `map` dropped),
 *   and a function upstream gets the client's `lastEventId` to send on.
 * - **Failures are visible:** a non-200 status or wrong content type
 *   upstream (an `SSEResponseError`), a network error, a body cut mid-stream
 *   or the `timeout` end the stream with the event `onError` returns (by
 *   default `event: error` with a generic message; nothing of the upstream
 *   body or stack is leaked).
 *
 * @example Forwarding only the token deltas of an OpenAI-style stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { relaySSE } from "@ssekit/ssekit";
 *
 * // The upstream here is a fetch handler standing in for the API; in an app
 * // it is `fetch("https://api.example.com/v1/chat/completions", { …, signal })`.
 * const api = (_: Request) =>
 *   new Response(
 *     'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n' +
 *       'data: {"choices":[{"delta":{"content":"lo"}}]}\n\ndata: [DONE]\n\n',
 *     { headers: { "Content-Type": "text/event-stream" } },
 *   );
 *
 * // The handler: give it to Deno.serve, Bun.serve, a Worker or `serve()`.
 * const handler = (request: Request) =>
 *   relaySSE((signal) => api(new Request("http://api.test/", { signal })), {
 *     signal: request.signal,
 *     map: (message) => {
 *       if (message.data === "[DONE]") return { event: "done", data: "" };
 *       const token = JSON.parse(message.data).choices[0]?.delta?.content;
 *       return token ? { data: token } : undefined;
 *     },
 *   });
 *
 * const text = await handler(new Request("http://127.0.0.1/")).text();
 * assert.match(text, /data: Hel\n\ndata: lo\n\nevent: done\ndata: \n\n/);
 * ```
 *
 * @param upstream The upstream response, a promise of it, or a function
 * that makes the request with the relay's signal.
 * @param options `map`, `timeout`, and the `createSSEStream` options.
 * @returns The SSE `Response` to send to the client.
 * @throws {TypeError|RangeError} As `createSSEStream` does for bad options,
 * and `RangeError` for a bad `timeout`.
 */
export function relaySSE<M extends SSEEventMap>(
  upstream: RelayUpstream,
  options: Omit<RelaySSEOptions, "map"> & {
    /** The stream's events (`defineEvents`): the map's are checked. */
    events: SSEEvents<M>;
    /** As {@linkcode RelaySSEOptions.map}, returning the map's events. */
    map: (
      message: SSEMessage,
    ) =>
      | RelayMapResult<TypedSSEEvent<M>>
      | PromiseLike<RelayMapResult<TypedSSEEvent<M>>>;
  },
): Response;
/**
 * Relays an upstream stream, untyped: see the typed form above.
 *
 * @param upstream The upstream response, a promise of it, or a function
 * that makes the request.
 * @param options `map`, `timeout`, `lastEventId` and the `createSSEStream`
 * options.
 * @returns The SSE `Response` to send to the client.
 */
export function relaySSE(
  upstream: RelayUpstream,
  options?: RelaySSEOptions,
): Response;
export function relaySSE(
  upstream: RelayUpstream,
  options: RelaySSEOptions & { events?: SSEEvents<SSEEventMap> } = {},
): Response {
  const { map, timeout, lastEventId = "", events, ...streamOptions } = options;
  checkEvents(events, "relaySSE");
  // A typed relay sends its map's events with JSON data; without a map,
  // the upstream's data goes as it came.
  const typed = events !== undefined && map !== undefined;
  checkOption(
    timeout === undefined || isPositive(timeout),
    "relaySSE",
    "timeout",
    "milliseconds > 0",
    timeout,
    RangeError,
  );
  checkOption(
    typeof lastEventId === "string",
    "relaySSE",
    "lastEventId",
    "a string",
    lastEventId,
  );
  return createSSEStream(async function* (signal) {
    const upstreamSignal = timeout === undefined
      ? signal
      : AbortSignal.any([signal, AbortSignal.timeout(timeout)]);
    const response = await (typeof upstream === "function"
      ? upstream(upstreamSignal, { lastEventId })
      : upstream);
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    // A Response given as is has a request we cannot abort: cancelling its
    // body is what is left.
    const cancelBody = () =>
      (reader ?? response.body)?.cancel().catch(() => {});
    upstreamSignal.addEventListener("abort", cancelBody);
    try {
      if (response.status === 204 || !response.body) {
        return void cancelBody();
      }
      const error = await checkEventStream(response, response.url);
      if (error) {
        throw error;
      }
      reader = response.body.getReader();
      yield* relayEvents(reader, { map, typed, lastEventId, streamOptions });
      // A cancelled body ends like a finished one; only the signal tells.
      if (upstreamSignal.aborted && !signal.aborted) {
        throw upstreamSignal.reason;
      }
    } finally {
      upstreamSignal.removeEventListener("abort", cancelBody);
      cancelBody();
    }
  }, streamOptions);
}
