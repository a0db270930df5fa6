/**
 * The body of the `Request` that `ssekit/node` hands a handler (internal),
 * read from the socket on demand.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";

// The request body, read from the socket only while the stream has demand:
// Readable.toWeb would do, except that cancelling it destroys the socket,
// and with it the response the handler may still be sending.
export function requestBody(
  req: IncomingMessage,
  res: ServerResponse,
): ReadableStream<Uint8Array> {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const onData = (chunk: Uint8Array) => {
    controller.enqueue(
      new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
    if (controller.desiredSize! <= 0) req.pause();
  };
  const stop = () => {
    open = false;
    req.off("data", onData);
    // Discards the rest: a paused body would stall a client still sending
    // it, and the next request on the connection behind it.
    req.resume();
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      req.on("data", onData);
      req.once("end", () => {
        if (open) c.close();
        open = false;
      });
      req.once("error", (error) => {
        if (open) c.error(error);
        open = false;
      });
      // The response is over (sent, or the client left) before the body
      // was read; some node:http implementations emit no request error.
      res.once("close", () => {
        if (!open) return;
        stop();
        c.error(
          new DOMException(
            "The response ended before the request body was read",
            "AbortError",
          ),
        );
      });
    },
    pull() {
      req.resume();
    },
    cancel: stop,
  });
}
