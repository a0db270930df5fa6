/**
 * ssekit: Server-Sent Events for web-standard runtimes (Deno, Bun, Node ≥ 20,
 * browsers, Cloudflare Workers), with no dependencies.
 *
 * {@linkcode createSSEStream} turns an async iterable, an iterable or a
 * `ReadableStream` of events into a `text/event-stream` `Response` with
 * backpressure, coalescing, keep-alive, cancellation and in-band errors.
 * {@linkcode formatEvent} and {@linkcode SSEEncoderStream} expose the
 * injection-proof encoder for custom pipelines.
 *
 * @example Streaming a typewriter reply
 * ```ts ignore
 * import { createSSEStream } from "@ssekit/ssekit";
 *
 * Deno.serve((request) =>
 *   createSSEStream(async function* () {
 *     for (const token of ["Hello", ", ", "world"]) {
 *       yield { event: "token", data: token };
 *       await new Promise((resolve) => setTimeout(resolve, 100));
 *     }
 *   }(), { signal: request.signal })
 * );
 * ```
 *
 * @module
 */

export type { SSEEvent, SSEMessage } from "./src/types.ts";
export {
  formatEvent,
  type FormatEventOptions,
  SSEEncoderStream,
} from "./src/encode.ts";
export {
  createSSEStream,
  DEFAULT_KEEP_ALIVE,
  type SSESource,
  type SSESourceInit,
  type SSEStreamOptions,
} from "./src/stream.ts";
