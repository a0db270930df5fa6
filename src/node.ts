/**
 * `ssekit/node`: serves fetch-style handlers, and so
 * {@linkcode createSSEStream} responses, from `node:http`, on Node ≥ 20 and
 * on the `node:http` of Deno and Bun.
 *
 * {@linkcode toNodeListener} adapts a handler `(request) => Response` into a
 * `node:http` request listener, for an existing server, Express or any
 * framework that hands out `IncomingMessage` and `ServerResponse`;
 * {@linkcode serve} starts a server with it, in the manner of `Deno.serve`.
 *
 * The adapter streams both ways with backpressure: the request body is a
 * `ReadableStream` read from the socket on demand, and the response body is
 * read only as fast as the client takes it. `request.signal` aborts when the
 * client disconnects, and the response body is cancelled, so an SSE
 * producer's `finally` runs. A body that a parser such as `express.json()`
 * has already read is rebuilt from `req.body`, and the handler gets the
 * native `req` and `res` as a second argument.
 *
 * This is a separate entry point so that the core module never imports
 * `node:*`.
 *
 * @example Serving an event stream from Node
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSSEStream, parseSSE } from "@ssekit/ssekit"; // "ssekit" from npm
 * import { serve } from "@ssekit/ssekit/node"; // "ssekit/node" from npm
 *
 * const server = await serve((request) =>
 *   createSSEStream(async function* () {
 *     for (let i = 0; ; i++) {
 *       yield { event: "tick", id: i, data: { now: Date.now() } };
 *       await new Promise((resolve) => setTimeout(resolve, 10));
 *     }
 *   }(), { signal: request.signal }), { hostname: "127.0.0.1", port: 0 });
 *
 * for await (const message of parseSSE(await fetch(server.url))) {
 *   assert.equal(message.type, "tick");
 *   break; // cancels the response, which stops the generator
 * }
 * await server.close();
 * ```
 *
 * @module
 */

export type {
  FetchHandler,
  NodeContext,
  NodeHandler,
  NodeListener,
} from "./_node_handler.ts";
export type { NodeListenerOptions } from "./_node_report.ts";
export type {
  NodeServer,
  ServeAddress,
  ServeOptions,
} from "./_node_serve_types.ts";
export { toNodeListener } from "./_node_listener.ts";
export { serve } from "./_node_serve.ts";
