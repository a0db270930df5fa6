/**
 * ssekit: Server-Sent Events for web-standard runtimes (Deno, Bun, Node ≥ 20,
 * browsers, Cloudflare Workers), with no dependencies.
 *
 * Server side:
 * - {@linkcode createSSEStream} turns an async iterable, an iterable or a
 *   `ReadableStream` of events into a `text/event-stream` `Response` with
 *   backpressure, coalescing, keep-alive, cancellation and in-band errors;
 *   {@linkcode formatEvent} and {@linkcode SSEEncoderStream} expose its
 *   injection-proof encoder.
 * - {@linkcode relaySSE} forwards an upstream event stream (an LLM API),
 *   aborting the upstream request when the client leaves.
 * - {@linkcode createHub} fans events out to many subscribers by topic and
 *   replays what a reconnecting client missed ({@linkcode getLastEventId}).
 *
 * Client side:
 * - {@linkcode parseSSE}, {@linkcode SSEDecoderStream} and
 *   {@linkcode EventStreamInterpreter} parse a stream exactly as the WHATWG
 *   HTML standard's `EventSource` does.
 * - {@linkcode connectSSE} is a reconnecting `fetch`-based client: any
 *   method, body and headers, `Last-Event-ID` resume, backoff.
 *
 * Operations: every one of them takes `hooks` ({@linkcode SSEHooks}) and a
 * `logger`; {@linkcode sseMetrics} turns the hooks into counters.
 *
 * @example Streaming a typewriter reply
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSSEStream } from "@ssekit/ssekit";
 *
 * // A fetch handler, for Deno.serve, Bun.serve, a Worker, Hono or serve()
 * // of "@ssekit/ssekit/node".
 * function typewriter(request: Request): Response {
 *   return createSSEStream(async function* () {
 *     for (const token of ["Hello", ", ", "world"]) {
 *       yield { event: "token", data: token };
 *       await new Promise((resolve) => setTimeout(resolve, 100));
 *     }
 *   }(), { signal: request.signal });
 * }
 *
 * const response = typewriter(new Request("http://localhost/"));
 * assert.equal(
 *   await response.text(),
 *   ":\n" + // a comment first, so that proxies send the headers at once
 *     "event: token\ndata: Hello\n\n" +
 *     "event: token\ndata: , \n\n" +
 *     "event: token\ndata: world\n\n",
 * );
 * ```
 *
 * @example Consuming a POST stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectSSE, createSSEStream } from "@ssekit/ssekit";
 *
 * // Here the server is a fetch handler; in an app, leave `fetch` out.
 * const echo = async (request: Request) =>
 *   createSSEStream([...(await request.text()).split(" "), "[DONE]"]);
 *
 * const words = [];
 * for await (
 *   const message of connectSSE("https://chat.example/", {
 *     method: "POST",
 *     body: "Hi there",
 *     fetch: echo,
 *   })
 * ) {
 *   if (message.data === "[DONE]") break;
 *   words.push(message.data);
 * }
 * assert.deepEqual(words, ["Hi", "there"]);
 * ```
 *
 * @module
 */

export type { SSEEvent, SSEMessage } from "./src/types.ts";
export {
  type DecodedMessage,
  defineEvents,
  type SchemaOutput,
  type SSEEventMap,
  type SSEEvents,
  type SSEEventSchemas,
  SSEValidationError,
  type StandardSchemaIssue,
  type StandardSchemaResult,
  type StandardSchemaV1,
  type TypedEventFields,
  type TypedReadOptions,
  type TypedSSEEvent,
  type TypedSSEMessage,
} from "./src/events.ts";
export {
  formatEvent,
  type FormatEventOptions,
  SSEEncoderStream,
} from "./src/encode.ts";
export {
  createSSEStream,
  DEFAULT_KEEP_ALIVE,
  DEFAULT_STALL_TIMEOUT,
  type SSESource,
  type SSESourceInit,
  type SSEStreamOptions,
  type TypedSSEStreamOptions,
} from "./src/stream.ts";
export {
  DEFAULT_MAX_EVENT_SIZE,
  EventStreamInterpreter,
  parseSSE,
  type SSEDecoderOptions,
  SSEDecoderStream,
} from "./src/parse.ts";
export {
  connectSSE,
  type ConnectSSEInit,
  type SSEConnection,
  type SSEReadyState,
  type SSEReconnectOptions,
  type SSERequestBody,
  type TypedSSEConnection,
} from "./src/client.ts";
export { BODY_EXCERPT_LIMIT, SSEResponseError } from "./src/response_error.ts";
export {
  type RelayMapResult,
  relaySSE,
  type RelaySSEOptions,
  type RelayUpstream,
  type RelayUpstreamContext,
} from "./src/relay.ts";
export {
  createHub,
  type Hub,
  type HubOptions,
  type HubResponseOptions,
  type HubStats,
  type HubSubscribeOptions,
  type TypedHub,
} from "./src/hub.ts";
export {
  DEFAULT_MAX_RELAYS,
  type HubRelayOptions,
  type HubRelayOutcome,
  type HubRelayRun,
} from "./src/hub_relay.ts";
export {
  DEFAULT_HISTORY,
  type HubEntry,
  type HubHistory,
  type HubLeaseState,
  type HubReadResult,
  type HubRecord,
  type HubStore,
  type HubTailHandler,
} from "./src/store.ts";
export { memoryStore, type MemoryStoreOptions } from "./src/memory_store.ts";
export { getLastEventId } from "./src/last_event_id.ts";
export type {
  SSECloseInfo,
  SSECloseReason,
  SSEErrorInfo,
  SSEHookOptions,
  SSEHooks,
  SSELogger,
  SSEOpenInfo,
  SSEReconnectInfo,
  SSEResetInfo,
  SSEResumeInfo,
  SSESendInfo,
  SSESide,
  SSESlowConsumerInfo,
  SSETailLagInfo,
} from "./src/hooks.ts";
export {
  type SSEMetrics,
  sseMetrics,
  type SSEMetricsSnapshot,
} from "./src/metrics.ts";
