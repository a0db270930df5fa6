/**
 * {@linkcode toNodeListener}: a fetch-style handler as a `node:http`
 * request listener.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { NodeHandler, NodeListener } from "./_node_handler.ts";
import { type NodeListenerOptions, reporter } from "./_node_report.ts";
import { listener } from "./_node_respond.ts";

/**
 * Turns a fetch-style handler into a `node:http` request listener, for
 * `http.createServer`, `https.createServer`, Express, or anything else
 * that hands out `IncomingMessage` and `ServerResponse`.
 *
 * - **Request:** method, URL (from the `Host` header, or the target itself
 *   in absolute-form; the local address when there is no `Host`), headers
 *   (repeated ones joined as fetch does) and, for methods other than `GET`
 *   and `HEAD`, a streaming body read from the socket on demand. Its
 *   `signal` aborts when the client disconnects before the response is
 *   complete, and only then. A request that cannot become a `Request` (a
 *   malformed `Host`) gets `400 Bad Request` without calling the handler.
 * - **Body parsers:** when middleware before the handler has already read
 *   the body (Express's `express.json()`, `text()`, `raw()`,
 *   `urlencoded()`), the body is rebuilt from what it left in `req.body`: a
 *   `Buffer` as those bytes, a string as that text, an object as a form
 *   (`a=1&a=2`, `a[b]=c`) when the content-type is
 *   `application/x-www-form-urlencoded`, and anything else as JSON. The
 *   `Content-Type` follows the body (a charset becomes `utf-8`; JSON from a
 *   non-JSON type becomes `application/json`), and `Content-Length`,
 *   `Content-Encoding` and `Transfer-Encoding` are dropped. A parser that
 *   left nothing usable makes reading the body reject with a `TypeError`
 *   that says so, rather than wait.
 * - **Context:** the handler gets the native `req` and `res` as a second
 *   argument, `(request, { req, res })`, for what middleware put on them
 *   (`req.user`, `req.params`, `res.locals`); see {@linkcode NodeContext}.
 * - **Response:** status, status text and headers (every `Set-Cookie` kept;
 *   `Connection`, `Keep-Alive` and `Transfer-Encoding` left to Node), sent
 *   at once with Nagle's algorithm off; then the body, read only as fast as
 *   the client takes it. A disconnect cancels the body, so a producer's
 *   `finally` runs. A `HEAD` response's body is cancelled unread. A body
 *   made by `createSSEStream` (also when re-wrapped in another `Response`)
 *   is written to the socket directly rather than through its
 *   `ReadableStream`, so an idle event stream holds less memory.
 * - **Errors:** a handler that throws, rejects or returns a non-`Response`
 *   gets a `500`; a body that errors mid-way closes the connection, so the
 *   client sees a truncated response. Both are reported to
 *   `options.onError`; nothing reaches the server or becomes an unhandled
 *   rejection.
 *
 * @example Server-sent events from Express
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AddressInfo } from "node:net";
 * import express from "express";
 * import { createSSEStream } from "@ssekit/ssekit"; // "ssekit" from npm
 * import { toNodeListener } from "@ssekit/ssekit/node"; // "ssekit/node" from npm
 *
 * const app = express();
 * app.get(
 *   "/events",
 *   toNodeListener((request) =>
 *     createSSEStream(["Hello", "world"], { signal: request.signal })
 *   ),
 * );
 *
 * const server = app.listen(0, "127.0.0.1"); // app.listen(3000) in an app
 * await new Promise((listening) => server.once("listening", listening));
 * const { port } = server.address() as AddressInfo;
 * const response = await fetch(`http://127.0.0.1:${port}/events`);
 * assert.equal(await response.text(), ":\ndata: Hello\n\ndata: world\n\n");
 * server.close();
 * ```
 *
 * @example JSON posted to Express, with express.json() before the route
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AddressInfo } from "node:net";
 * import express from "express";
 * import { createSSEStream } from "@ssekit/ssekit"; // "ssekit" from npm
 * import { toNodeListener } from "@ssekit/ssekit/node"; // "ssekit/node" from npm
 *
 * const app = express();
 * app.use(express.json());
 * app.post(
 *   "/chat/:room",
 *   toNodeListener<express.Request, express.Response>(
 *     async (request, { req }) => {
 *       const { prompt } = await request.json(); // rebuilt from req.body
 *       return createSSEStream([{ data: { room: req.params.room, prompt } }], {
 *         signal: request.signal,
 *       });
 *     },
 *   ),
 * );
 *
 * const server = app.listen(0, "127.0.0.1");
 * await new Promise((listening) => server.once("listening", listening));
 * const { port } = server.address() as AddressInfo;
 * const response = await fetch(`http://127.0.0.1:${port}/chat/7`, {
 *   method: "POST",
 *   headers: { "Content-Type": "application/json" },
 *   body: JSON.stringify({ prompt: "Hi" }),
 * });
 * assert.equal(await response.text(), ':\ndata: {"room":"7","prompt":"Hi"}\n\n');
 * server.close();
 * ```
 *
 * @example A plain node:http server
 * ```ts
 * import assert from "node:assert/strict";
 * import { createServer } from "node:http";
 * import type { AddressInfo } from "node:net";
 * import { toNodeListener } from "@ssekit/ssekit/node";
 *
 * const server = createServer(toNodeListener((request) =>
 *   new Response(`You asked for ${new URL(request.url).pathname}`)
 * )).listen(0, "127.0.0.1");
 * await new Promise((listening) => server.once("listening", listening));
 * const { port } = server.address() as AddressInfo;
 * const response = await fetch(`http://127.0.0.1:${port}/hello`);
 * assert.equal(await response.text(), "You asked for /hello");
 * server.close();
 * ```
 *
 * @typeParam Req The request type the handler's context has (e.g.
 * `express.Request`).
 * @typeParam Res The response type the handler's context has (e.g.
 * `express.Response`).
 * @param handler Answers each request with a `Response`; it gets the
 * native `req` and `res` as a second argument.
 * @param options Where failures are reported.
 * @returns A listener for the `request` event of a `node:http` server.
 * @throws {TypeError} When `handler` is not a function.
 */
export function toNodeListener<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
>(
  handler: NodeHandler<Req, Res>,
  options: NodeListenerOptions = {},
): NodeListener<Req, Res> {
  // The adapter only ever hands the handler the req and res it was given.
  return listener(
    handler as unknown as NodeHandler,
    reporter(options),
    undefined,
  );
}
