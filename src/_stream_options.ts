/**
 * The checks of {@linkcode createSSEStream}'s options, and what is made of
 * them: the response's status and headers, the timers' intervals and the
 * stream's opening line. Every option is checked before the source is
 * touched: a source taken and then dropped by a throw would never be
 * closed. (A little over ~150 lines: one check per option, each naming it.)
 *
 * @module
 */

import { formatEvent } from "./encode.ts";
import { checkEvents, type SSEEventMap } from "./events.ts";
import { checkHookOptions } from "./hooks.ts";
import { checkCallback, checkOption, describe, isObject } from "./_checks.ts";
import type { SSEStreamOptions, TypedSSEStreamOptions } from "./stream.ts";
import { encoder } from "./_body_shortcuts.ts";

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
const OWNER = "createSSEStream";

function responseHeaders(init: HeadersInit | undefined): Headers {
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
function interval(
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

function responseStatus(status: number | undefined): number {
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

function checkSignal(signal: unknown): void {
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

/** The stream's opening line: a comment, or the `retry` hint. */
export function prelude(options: SSEStreamOptions): string {
  return options.retry === undefined
    ? ":\n"
    : formatEvent({ retry: options.retry });
}

/** The options of {@linkcode createSSEStream}, typed or not. */
export type AnyStreamOptions =
  & SSEStreamOptions
  & Partial<TypedSSEStreamOptions<SSEEventMap>>;

/** What a stream is made with, once its options are checked. */
export interface StreamSettings {
  status: number;
  headers: Headers;
  /** The timers' intervals in milliseconds, 0 when off. */
  keepAlive: number;
  stallTimeout: number;
  /** The opening line's bytes. */
  prelude: Uint8Array;
}

/**
 * Checks every option, throwing a TypeError or RangeError naming the first
 * that is invalid, and returns the settings made of them; `defaults` holds
 * the intervals of timers whose option is left out.
 */
export function streamSettings(
  options: AnyStreamOptions,
  defaults: { keepAlive: number; stallTimeout: number },
): StreamSettings {
  if (!isObject(options)) {
    throw new TypeError(
      `Invalid createSSEStream options: expected an object, got ${
        describe(options)
      }`,
    );
  }
  const status = responseStatus(options.status);
  const headers = responseHeaders(options.headers);
  checkSignal(options.signal);
  checkEvents(options.events, OWNER);
  checkCallback(OWNER, "onError", options.onError);
  checkCallback(OWNER, "serialize", options.serialize);
  checkHookOptions(options, OWNER);
  return {
    status,
    headers,
    keepAlive: interval("keepAlive", options.keepAlive, defaults.keepAlive),
    stallTimeout: interval(
      "stallTimeout",
      options.stallTimeout,
      defaults.stallTimeout,
    ),
    // An invalid retry throws here.
    prelude: encoder.encode(prelude(options)),
  };
}
