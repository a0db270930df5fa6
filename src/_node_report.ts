/**
 * Where `ssekit/node` reports a failed request (internal): the
 * `onError` and `logger` options, and the one reporter built from them.
 *
 * @module
 */

import type { SSELogger } from "./hooks.ts";

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

// The reporter of failed requests: options.onError, or the logger. A
// failing onError must not take the response, or the process, with it.
export function reporter(
  options: NodeListenerOptions,
): (error: unknown) => void {
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
