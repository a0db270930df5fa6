/**
 * What the client sees when a stream's source fails: the event
 * `options.onError` returns, or by default a generic error event that
 * reveals nothing of the error.
 *
 * @module
 */

import { formatEvent } from "./encode.ts";
import type { SSEEvent } from "./types.ts";
import type { SSEStreamOptions } from "./stream.ts";

// JSON, because OpenAI-compatible clients (the official SDKs among them)
// parse every data line as JSON before they look at the event type, and
// turn `{ error: { message, type } }` into their API error.
const GENERIC_ERROR: SSEEvent = Object.freeze({
  event: "error",
  data: '{"error":{"message":"The event stream failed","type":"server_error"}}',
});

/**
 * The formatted event to send for `error`, or undefined when
 * `options.onError` wants none. Never throws: a throwing `onError`, or a
 * reply that cannot be formatted, gives the generic event.
 */
export function errorEventText(
  error: unknown,
  options: SSEStreamOptions,
): string | undefined {
  let reply: SSEEvent | string | void;
  try {
    if (options.onError) reply = options.onError(error);
    else {
      (options.logger ?? console).error(
        "ssekit: the event source failed:",
        error,
      );
      reply = GENERIC_ERROR;
    }
  } catch {
    reply = GENERIC_ERROR;
  }
  if (reply === undefined) return undefined;
  try {
    return formatEvent(reply, options);
  } catch {
    return formatEvent(GENERIC_ERROR);
  }
}
