/**
 * The checks of {@linkcode createSSEStream}'s options, and the response's
 * status, headers and opening line made from them.
 *
 * @module
 */

import { formatEvent } from "./encode.ts";
import { checkOption } from "./_checks.ts";
import type { SSEStreamOptions } from "./stream.ts";

const MAX_TIMEOUT = 2_147_483_647;
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
];
// A stream has no length, and its bytes are not encoded: either header
// would make a client misread where the body ends or what it holds (a
// Content-Length truncates it, or desynchronises the responses pipelined
// after it on the connection).
const MISFRAMING = ["content-length", "content-encoding"];
// Statuses whose responses have no body.
const NULL_BODY = [204, 205, 304];

/** Who a stream's options are given to, as option errors name it. */
export const OWNER = "createSSEStream";

export function responseHeaders(init: HeadersInit | undefined): Headers {
  const headers = new Headers({
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
  });
  new Headers(init).forEach((value, name) => {
    if (HOP_BY_HOP.includes(name)) {
      throw new TypeError(
        `Invalid SSE response header "${name}": hop-by-hop headers break HTTP/2 and are managed by the server; remove it`,
      );
    }
    if (MISFRAMING.includes(name)) {
      throw new TypeError(
        `Invalid SSE response header "${name}": an event stream has no length and is not encoded, so this header would make clients misread the body; remove it`,
      );
    }
    headers.set(name, value);
  });
  return headers;
}

// Milliseconds for a timer option: undefined gives the default, false 0.
export function interval(
  name: string,
  value: number | false | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (value === false) return 0;
  checkOption(
    typeof value === "number" && value > 0 && value <= MAX_TIMEOUT,
    OWNER,
    name,
    `false or milliseconds in (0, ${MAX_TIMEOUT}]`,
    value,
    RangeError,
  );
  return value;
}

export function responseStatus(status: number | undefined): number {
  if (status === undefined) return 200;
  checkOption(
    Number.isInteger(status) && status >= 200 && status <= 599 &&
      !NULL_BODY.includes(status),
    OWNER,
    "status",
    "an integer from 200 to 599 that allows a body (not 204, 205 or 304)",
    status,
    RangeError,
  );
  return status;
}

export function checkSignal(signal: unknown): void {
  checkOption(
    signal === undefined ||
      typeof (signal as Partial<AbortSignal> | null)?.addEventListener ===
        "function",
    OWNER,
    "signal",
    "an AbortSignal",
    signal,
  );
}

export function prelude(options: SSEStreamOptions): string {
  return options.retry === undefined
    ? ":\n"
    : formatEvent({ retry: options.retry });
}
