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

import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { Buffer } from "node:buffer";
import type { AddressInfo, Socket } from "node:net";
import { describe } from "./_checks.ts";
import type { SSELogger } from "./hooks.ts";
import { bodyConsumed, parsedBody, requestBody } from "./_node_body.ts";
import {
  type AdoptedSSEBody,
  adoptSSEBody,
  type SSESink,
} from "./_body_shortcuts.ts";

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

/**
 * Options for {@linkcode toNodeListener}.
 *
 * @example Reporting failures to a logger
 * ```ts
 * import { type NodeListenerOptions, toNodeListener } from "@ssekit/ssekit/node";
 *
 * const options: NodeListenerOptions = { onError: (error) => console.error("request failed", error) };
 * const listener = toNodeListener(() => new Response("OK"), options);
 * ```
 */
export interface NodeListenerOptions {
  /**
   * Reports a request that failed on the server's side: the handler threw,
   * rejected or returned something other than a `Response` (the client gets
   * a plain `500 Internal Server Error`), or the response body errored after
   * the head was sent (the connection is closed, so the client sees a
   * truncated response rather than a complete one).
   *
   * @default {logger.error}
   */
  onError?: (error: unknown) => void;
  /** Where failures go without `onError`, or when it throws. @default {console} */
  logger?: SSELogger;
}

/**
 * Where a server started by {@linkcode serve} listens.
 *
 * @example Logging where the server listens
 * ```ts
 * import type { ServeAddress } from "@ssekit/ssekit/node";
 *
 * const onListen = ({ hostname, port, url }: ServeAddress) => console.log(`${hostname}:${port}`, url);
 * ```
 */
export interface ServeAddress {
  /** The bound address, e.g. `"127.0.0.1"`, `"0.0.0.0"` or `"::1"`. */
  hostname: string;
  /** The bound port: the one asked for, or the one the system chose for `0`. */
  port: number;
  /**
   * The server's root URL, e.g. `http://127.0.0.1:8000/`; an unspecified
   * address (`0.0.0.0`, `::`) shows as `localhost`, so the URL can be opened.
   */
  url: string;
}

/**
 * Options for {@linkcode serve}.
 *
 * @example Loopback only, on a port the system picks, until aborted
 * ```ts
 * import type { ServeOptions } from "@ssekit/ssekit/node";
 *
 * const options: ServeOptions = { hostname: "127.0.0.1", port: 0, signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface ServeOptions extends NodeListenerOptions {
  /** The port to listen on; `0` lets the system choose one. @default {8000} */
  port?: number;
  /** The address to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /** Closes the server, as {@linkcode NodeServer.close} does, when aborted. */
  signal?: AbortSignal;
  /**
   * Called once the server listens. The default logs
   * `Listening on <url>` with `console.log`, as `Deno.serve` does.
   */
  onListen?: (address: ServeAddress) => void;
}

/**
 * A listening server started by {@linkcode serve}.
 *
 * @example Closing a server
 * ```ts
 * import assert from "node:assert/strict";
 * import { type NodeServer, serve } from "@ssekit/ssekit/node";
 *
 * const server: NodeServer = await serve(() => new Response("OK"), {
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   onListen() {},
 * });
 * assert.equal(await (await fetch(server.url)).text(), "OK");
 * await server.close();
 * ```
 */
export interface NodeServer extends ServeAddress {
  /** The underlying `node:http` server, for its settings and events. */
  readonly server: Server;
  /** Resolves when the server has closed and every connection has ended. */
  readonly finished: Promise<void>;
  /**
   * Closes the server: it stops accepting connections, closes idle ones,
   * and aborts the `request.signal` of every request in flight, so streams
   * built with `{ signal: request.signal }` end cleanly (a long-lived event
   * stream would otherwise keep the server open forever). Each connection
   * closes as soon as its response ends. Calling it again is harmless.
   *
   * @returns {@linkcode NodeServer.finished}
   */
  close(): Promise<void>;
}

// Node frames the response itself; a handler's own framing headers (Hono
// sets some) would contradict the ones Node writes.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding"]);
// RFC 9112 §3.2.2: in absolute-form the target names the authority, and the
// Host header is then ignored.
const ABSOLUTE_FORM = /^[a-z][a-z\d+.-]*:\/\//i;
// A Host header with these would change which part of the URL it becomes.
const NOT_AN_AUTHORITY = /[\s/?#@\\]/;

const noop = () => {};

// The reporter of failed requests: options.onError, or the logger. A
// failing onError must not take the response, or the process, with it.
function reporter(options: NodeListenerOptions): (error: unknown) => void {
  const { onError, logger = console } = options;
  if (onError === undefined) {
    return (error) => logger.error("ssekit/node: a request failed:", error);
  }
  return (error) => {
    try {
      onError(error);
    } catch (thrown) {
      logger.error("ssekit/node: onError threw:", thrown);
    }
  };
}

function localAuthority(socket: Socket): string {
  const address = socket.localAddress;
  if (address === undefined) return "localhost";
  const host = address.includes(":") ? `[${address}]` : address;
  return `${host}:${socket.localPort}`;
}

function requestURL(req: IncomingMessage): string {
  const target = req.url ?? "/";
  if (ABSOLUTE_FORM.test(target)) return target;
  const scheme = (req.socket as { encrypted?: boolean }).encrypted
    ? "https"
    : "http";
  // HTTP/1.0 clients may send no Host; the address they reached stands in.
  const host = req.headers.host || localAuthority(req.socket);
  if (NOT_AN_AUTHORITY.test(host)) {
    throw new TypeError(`Invalid Host header: ${JSON.stringify(host)}`);
  }
  // Asterisk-form (`OPTIONS *`) addresses the server as a whole, whose
  // closest URL is the root.
  return `${scheme}://${host}${target.startsWith("/") ? target : "/"}`;
}

function toRequest(
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
): Request {
  const headers: [string, string][] = [];
  const raw = req.rawHeaders;
  // rawHeaders keeps repeated fields apart; Request joins them as fetch does.
  for (let i = 0; i < raw.length; i += 2) headers.push([raw[i], raw[i + 1]]);
  const init: RequestInit & { duplex?: "half" } = {
    method: req.method,
    headers,
    signal,
  };
  if (req.method !== "GET" && req.method !== "HEAD") {
    if (bodyConsumed(req)) init.body = parsedBody(req, headers);
    else init.body = requestBody(req, res);
    init.duplex = "half";
  }
  return new Request(requestURL(req), init);
}

// A Buffer over the last chunk written, reused while the chunk is: a hub
// writes one event's bytes to thousands of responses in a row, and
// node:http would make a Buffer of them for each write.
let lastChunk: Uint8Array | undefined;
let lastBuffer: Buffer | undefined;

function asBuffer(chunk: Uint8Array): Buffer {
  if (chunk !== lastChunk) {
    lastChunk = chunk;
    lastBuffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  return lastBuffer!;
}

// Writes a createSSEStream body straight to the response, with the demand
// the body asks for standing in for a stream's: more while the socket takes
// it, none while it waits for "drain".
class ResponseSink implements SSESink {
  res: ServerResponse;
  body: AdoptedSSEBody;
  /** Written out as given: node:http neither changes nor keeps a chunk. */
  readonly keepsBytesIntact = true;
  open = true;
  full = false;
  /** Resolves the pump's wait for "drain", while there is one. */
  wake: (() => void) | undefined = undefined;

  constructor(res: ServerResponse, body: AdoptedSSEBody) {
    this.res = res;
    this.body = body;
  }

  get desiredSize(): number {
    return this.full ? 0 : 1;
  }

  enqueue(chunk: Uint8Array): void {
    if (!this.open || this.res.write(asBuffer(chunk)) || this.full) return;
    this.full = true;
    // A "drain" listener only while waiting: an idle stream keeps none.
    this.res.once("drain", () => {
      this.full = false;
      this.wake?.();
    });
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.res.end();
  }

  /** The body gave the client up (its stallTimeout): drop the connection. */
  error(): void {
    if (!this.open) return;
    this.open = false;
    this.res.destroy();
    this.wake?.();
  }

  /** The client left: nothing more is written, and the body is cancelled. */
  cancel(reason: unknown): void {
    if (!this.open) return;
    this.open = false;
    this.body.cancel(reason);
    this.wake?.();
  }

  /** Writes the body from its first line to its end, or the client's leaving. */
  async pump(): Promise<void> {
    this.body.begin(this);
    while (this.open && !this.body.finished) {
      if (this.full) {
        await new Promise<void>((resolve) => this.wake = resolve);
        this.wake = undefined;
      } else await this.body.pull();
    }
    // A body ends by closing its sink; this is for one that did not.
    this.close();
  }
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(text.length),
  });
  res.end(text);
}

// Calls the handler in a frame of its own, so the Response is garbage once
// its body is taken.
async function handle(
  handler: NodeHandler,
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
  onError: (error: unknown) => void,
  keep: (request: Request) => void,
): Promise<Response | undefined> {
  let request: Request;
  try {
    request = toRequest(req, res, signal);
  } catch {
    sendText(res, 400, "Bad Request");
    return undefined;
  }
  keep(request);
  try {
    const response = await handler(request, { req, res });
    // Its tag too, not only instanceof: @hono/node-server replaces
    // globalThis.Response with a class of its own, and the runtime's
    // Responses (fetch's among them) are not instances of it.
    if (
      response instanceof Response ||
      Object.prototype.toString.call(response) === "[object Response]"
    ) return response;
    throw new TypeError(
      `Invalid handler result: expected a Response, got ${describe(response)}`,
    );
  } catch (error) {
    onError(error);
    if (!res.headersSent && !res.destroyed) {
      sendText(res, 500, "Internal Server Error");
    }
    return undefined;
  }
}

// What a response body is read through: a reader of its stream, or a sink
// that an adopted createSSEStream body writes to.
type Outgoing = ReadableStreamDefaultReader<Uint8Array> | ResponseSink;

// Runs the handler and writes the head; resolves to what the body is read
// through, or undefined when the response is over. A function of its own, so the
// Response is garbage while a long body streams: a suspended async function
// keeps its locals alive.
async function begin(
  handler: NodeHandler,
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
  onError: (error: unknown) => void,
  closed: () => boolean,
  keep: (request: Request) => void,
): Promise<Outgoing | undefined> {
  const response = await handle(handler, req, res, signal, onError, keep);
  if (!response) return undefined;
  if (closed()) {
    response.body?.cancel(signal.reason).catch(noop);
    return undefined;
  }
  return sendHead(req, res, response, onError);
}

function sendHead(
  req: IncomingMessage,
  res: ServerResponse,
  response: Response,
  onError: (error: unknown) => void,
): Outgoing | undefined {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let adopted: AdoptedSSEBody | undefined;
  try {
    if (req.method !== "HEAD" && response.body !== null) {
      adopted = adoptSSEBody(response);
      if (!adopted) reader = response.body.getReader();
    }
    // setHeader rather than a list given to writeHead: it merges with
    // headers that middleware set before, and on-headers before 1.1.0
    // (Express's compression, morgan, express-session) garbles the list
    // form (CVE-2025-7339).
    response.headers.forEach((value, name) => {
      if (name !== "set-cookie" && !HOP_BY_HOP.has(name)) {
        res.setHeader(name, value);
      }
    });
    const cookies = response.headers.getSetCookie();
    if (cookies.length > 0) res.setHeader("set-cookie", cookies);
    if (response.statusText) res.statusMessage = response.statusText;
    res.writeHead(response.status);
  } catch (error) {
    // A locked body or a status node:http refuses: the head is not sent yet.
    onError(error);
    // Only the response's own: middleware's stay, as on any other 500.
    response.headers.forEach((_, name) => res.removeHeader(name));
    if (adopted) adopted.cancel(error);
    else (reader ?? response.body)?.cancel(error).catch(noop);
    sendText(res, 500, "Internal Server Error");
    return undefined;
  }
  if (adopted) return new ResponseSink(res, adopted);
  if (!reader) {
    response.body?.cancel().catch(noop);
    res.end();
  }
  return reader;
}

function cancel(outgoing: Outgoing, reason: unknown): void {
  if (outgoing instanceof ResponseSink) outgoing.cancel(reason);
  else outgoing.cancel(reason).catch(noop);
}

async function respond(
  handler: NodeHandler,
  onError: (error: unknown) => void,
  open: Map<ServerResponse, AbortController> | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const aborter = new AbortController();
  // Assigned once, below, but read by the close listener before that.
  // deno-lint-ignore prefer-const
  let outgoing: Outgoing | undefined;
  // Kept until the response is over: a Request's signal follows the one
  // it was made with only while the Request lives (undici holds the link
  // weakly), so a handler that kept request.signal alone would never see
  // it abort once the Request was collected. Held, never read.
  // deno-lint-ignore no-unused-vars
  let request: Request | undefined;
  let closed = false;
  // Resolves the wait for "drain", while there is one.
  let wake: (() => void) | undefined;
  open?.set(res, aborter);
  // Not req's "close": it fires as soon as the request body has been read.
  // on() rather than once(): "close" comes once anyway, and once() would
  // keep a wrapper for every idle connection.
  res.on("close", () => {
    closed = true;
    open?.delete(res);
    if (!res.writableFinished) {
      const reason = new DOMException(
        "The client disconnected before the response was complete",
        "AbortError",
      );
      // Before the abort: a body that watches the signal would end the
      // response it can no longer write to.
      if (outgoing) cancel(outgoing, reason);
      aborter.abort(reason);
    }
    request = undefined;
    wake?.();
  });

  outgoing = await begin(
    handler,
    req,
    res,
    aborter.signal,
    onError,
    () => closed,
    (made) => request = made,
  );
  if (!outgoing) return;
  if (closed) {
    // The client left while the head was being sent: nothing is written.
    return cancel(outgoing, aborter.signal.reason);
  }
  // Headers go out now, not with the first chunk of a body that may take a
  // while (an SSE stream's first event). Nagle would then hold back each
  // small write until the previous one is acknowledged, up to 40 ms with
  // delayed ACKs, so it is off for every response; it costs nothing where
  // node:http already turned it off.
  res.socket?.setNoDelay(true);
  res.flushHeaders();
  if (outgoing instanceof ResponseSink) return outgoing.pump();
  const reader = outgoing;
  // Cleared once written: a suspended async function keeps its variables,
  // and an idle stream would keep its last chunk.
  let chunk: ReadableStreamReadResult<Uint8Array> | undefined;
  try {
    for (;;) {
      chunk = await reader.read();
      if (chunk.done) break;
      const full = !res.write(chunk.value);
      chunk = undefined;
      if (full && !closed) {
        // A "drain" listener only while waiting: an idle stream keeps none.
        await new Promise<void>((resolve) => {
          wake = resolve;
          res.once("drain", resolve);
        });
        wake = undefined;
      }
    }
  } catch (error) {
    if (closed) return;
    onError(error);
    // Ending cleanly would tell the client it has the whole body.
    return void res.destroy();
  }
  if (!closed) res.end();
}

function listener(
  handler: NodeHandler,
  onError: (error: unknown) => void,
  open: Map<ServerResponse, AbortController> | undefined,
): NodeListener {
  if (typeof handler !== "function") {
    throw new TypeError(
      `Invalid handler: expected a function (request, context) => Response, got ${
        describe(handler)
      }`,
    );
  }
  return (req, res) => {
    // respond() handles every failure it knows of; this is for a
    // node:http look-alike that throws where Node does not.
    respond(handler, onError, open, req, res).catch((error) => {
      onError(error);
      res.destroy();
    });
  };
}

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

function formatURL(address: string, port: number): string {
  const host = address === "0.0.0.0" || address === "::"
    ? "localhost"
    : address.includes(":")
    ? `[${address}]`
    : address;
  return `http://${host}:${port}/`;
}

/**
 * Starts a `node:http` server that answers every request with `handler`
 * through {@linkcode toNodeListener}, in the manner of `Deno.serve`: port
 * 8000 on `0.0.0.0` unless told otherwise, a log line once listening, and a
 * `signal` that closes it.
 *
 * Closing (through {@linkcode NodeServer.close} or `options.signal`) stops
 * accepting connections and aborts the `request.signal` of the requests in
 * flight, so event streams end and the server finishes instead of waiting
 * for them forever.
 *
 * @example Serving events until Ctrl-C
 * ```ts
 * import assert from "node:assert/strict";
 * import process from "node:process";
 * import { createSSEStream, parseSSE } from "@ssekit/ssekit"; // "ssekit" from npm
 * import { serve } from "@ssekit/ssekit/node"; // "ssekit/node" from npm
 *
 * const stop = new AbortController();
 * const ctrlC = () => stop.abort();
 * process.once("SIGINT", ctrlC);
 * const server = await serve(
 *   (request) =>
 *     createSSEStream(async function* () {
 *       for (let i = 0; ; i++) {
 *         yield { id: i, data: new Date().toISOString() };
 *         await new Promise((resolve) => setTimeout(resolve, 1000));
 *       }
 *     }(), { signal: request.signal }),
 *   { hostname: "127.0.0.1", port: 0, signal: stop.signal },
 * );
 * console.log(`curl -N ${server.url}`);
 *
 * // A client is reading when Ctrl-C comes (here, a call of its listener):
 * const messages = parseSSE(await fetch(server.url));
 * assert.equal((await messages.next()).value?.lastEventId, "0");
 * process.off("SIGINT", ctrlC);
 * ctrlC();
 * await server.finished; // the open stream ended instead of holding it
 * assert.equal((await messages.next()).done, true);
 * ```
 *
 * @param handler Answers each request with a `Response`.
 * @param options Address, shutdown signal, and listen and error callbacks.
 * @returns The listening server, once it listens; the promise rejects
 * with the error of `listen` instead (e.g. `EADDRINUSE`).
 * @throws {TypeError} When `handler` is not a function (as a rejection).
 * @throws {RangeError} When `port` is not an integer in [0, 65535] (as a
 * rejection).
 */
export async function serve(
  handler: NodeHandler,
  options: ServeOptions = {},
): Promise<NodeServer> {
  const { port = 8000, hostname = "0.0.0.0", signal } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(
      `Invalid port: expected an integer in [0, 65535], got ${String(port)}`,
    );
  }
  const onError = reporter(options);
  const open = new Map<ServerResponse, AbortController>();
  const server = createServer(listener(handler, onError, open));
  const finished = new Promise<void>((resolve) =>
    server.once("close", () => resolve())
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // Later errors (e.g. EMFILE while accepting) must not crash the process.
  server.on("error", (error) => onError(error));

  let closing = false;
  // A connection whose response ends during shutdown would otherwise stay
  // open, idle, until the keep-alive timeout.
  const closeIdle = () => server.closeIdleConnections();
  const close = (): Promise<void> => {
    if (closing) return finished;
    closing = true;
    signal?.removeEventListener("abort", close);
    server.close();
    server.closeIdleConnections();
    const reason = new DOMException("The server is closing", "AbortError");
    for (const [res, aborter] of open) {
      res.once("close", closeIdle);
      aborter.abort(reason);
    }
    return finished;
  };
  const address = server.address() as AddressInfo;
  const served: NodeServer = {
    server,
    hostname: address.address,
    port: address.port,
    url: formatURL(address.address, address.port),
    finished,
    close,
  };
  if (signal?.aborted) close();
  else signal?.addEventListener("abort", close);
  if (options.onListen) {
    options.onListen({
      hostname: served.hostname,
      port: served.port,
      url: served.url,
    });
  } else console.log(`Listening on ${served.url}`);
  return served;
}
