/**
 * How `ssekit/node` answers one request (internal): the listener that
 * runs the handler, writes the response, and cancels the body when the
 * client leaves.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { describe } from "./_checks.ts";
import type { NodeHandler, NodeListener } from "./_node_handler.ts";
import { begin, type Outgoing } from "./_node_head.ts";

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
      outgoing?.cancel(reason);
      aborter.abort(reason);
    }
    request = undefined;
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
    return outgoing.cancel(aborter.signal.reason);
  }
  // Nagle would hold back each small write until the previous one is
  // acknowledged, up to 40 ms with delayed ACKs, so it is off for every
  // response; it costs nothing where node:http already turned it off.
  res.socket?.setNoDelay(true);
  return outgoing.pump();
}

export function listener(
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
