/**
 * How `ssekit/node` calls a handler and sets its `Response`'s head on the
 * `ServerResponse` (internal), and what then writes the body: a
 * {@linkcode ResponseSink} for an adopted `createSSEStream` body, a
 * {@linkcode BodyPipe} for any other.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { describe } from "./_checks.ts";
import type { NodeHandler } from "./_node_handler.ts";
import { BodyPipe, discard } from "./_node_pipe.ts";
import { toRequest } from "./_node_request.ts";
import { ResponseSink } from "./_node_sink.ts";
import { type AdoptedSSEBody, adoptSSEBody } from "./_body_shortcuts.ts";

// Node frames the response itself; a handler's own framing headers (Hono
// sets some) would contradict the ones Node writes.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding"]);

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

// What writes a response's body once its head is ready: a pipe from its
// stream, or a sink that an adopted createSSEStream body writes to. Either
// writes the head and body (pump), or drops the body when the client has
// left (cancel).
export type Outgoing = BodyPipe | ResponseSink;

// Runs the handler and writes the head; resolves to what the body is read
// through, or undefined when the response is over. A function of its own, so the
// Response is garbage while a long body streams: a suspended async function
// keeps its locals alive.
export async function begin(
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
    discard(response.body, signal.reason);
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
    else discard(reader ?? response.body, error);
    sendText(res, 500, "Internal Server Error");
    return undefined;
  }
  if (adopted) return new ResponseSink(res, adopted);
  if (reader) return new BodyPipe(res, reader, onError);
  discard(response.body);
  res.end();
  return undefined;
}
