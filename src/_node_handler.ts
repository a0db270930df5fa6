/**
 * The handler and listener types of `ssekit/node`: what a fetch-style
 * handler is, the native request and response it may get, and the
 * `node:http` listener it becomes.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * A fetch-style request handler, as `Deno.serve`, `Bun.serve` and Hono take.
 *
 * @example A handler for serve() and toNodeListener()
 * ```ts
 * import type { FetchHandler } from "@ssekit/ssekit/node";
 *
 * const hello: FetchHandler = (request) => new Response(`Hello from ${new URL(request.url).pathname}`);
 * ```
 */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/**
 * The native request and response behind the `Request` a
 * {@linkcode NodeHandler} gets: what Express, Fastify (`request.raw`,
 * `reply.raw`) or your own middleware put on them, such as `req.user`,
 * `req.params` or `res.locals`. The type parameters narrow them to a
 * framework's own types.
 *
 * Read the body from the `Request`, not from `req`: its stream may already
 * have been read by a body parser, which `request` accounts for.
 *
 * @example An Express route's params and locals
 * ```ts
 * import express from "express";
 * import { createSSEStream } from "@ssekit/ssekit"; // "ssekit" from npm
 * import { toNodeListener } from "@ssekit/ssekit/node"; // "ssekit/node" from npm
 *
 * const app = express();
 * app.get(
 *   "/rooms/:room/events",
 *   toNodeListener<express.Request, express.Response>((request, { req, res }) =>
 *     createSSEStream([{ data: { room: req.params.room, user: res.locals.user } }], {
 *       signal: request.signal,
 *     })
 *   ),
 * );
 * ```
 */
export interface NodeContext<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
> {
  /** The request as `node:http` and the middleware before the handler left it. */
  req: Req;
  /** The response; the adapter writes its head and body from the `Response`. */
  res: Res;
}

/**
 * A request handler for {@linkcode toNodeListener} and {@linkcode serve}: a
 * {@linkcode FetchHandler} that may also take the native request and
 * response as a second argument. Every `FetchHandler` is one.
 *
 * @example A handler that reads what middleware set on the request
 * ```ts
 * import type { NodeHandler } from "@ssekit/ssekit/node"; // "ssekit/node" from npm
 *
 * const whoAmI: NodeHandler = (_request, { req }) =>
 *   new Response((req as { user?: string }).user ?? "anonymous");
 * ```
 */
export type NodeHandler<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
> = (
  request: Request,
  context: NodeContext<Req, Res>,
) => Response | Promise<Response>;

/**
 * A `node:http` request listener, as `http.createServer` and Express take.
 *
 * @example A listener for http.createServer
 * ```ts
 * import { toNodeListener, type NodeListener } from "@ssekit/ssekit/node";
 *
 * const listener: NodeListener = toNodeListener(() => new Response("OK"));
 * ```
 */
export type NodeListener<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
> = (req: Req, res: Res) => void;
