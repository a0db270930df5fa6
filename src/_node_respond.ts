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
import { begin, cancel, type Outgoing } from "./_node_head.ts";
import { ResponseSink } from "./_node_sink.ts";

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
  // Nagle would hold back each small write until the previous one is
  // acknowledged, up to 40 ms with delayed ACKs, so it is off for every
  // response; it costs nothing where node:http already turned it off.
  res.socket?.setNoDelay(true);
  // An adopted body writes its first line at once, and the head goes out
  // with it in one write: sent alone, it would cost every accept a system
  // call more. Any other body's first chunk may take a while (an SSE
  // stream's first event), so the head goes out now, alone.
  if (outgoing instanceof ResponseSink) return outgoing.pump();
  res.flushHeaders();
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
