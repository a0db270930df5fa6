/**
 * Lifecycle hooks and the logger, one shape shared by
 * {@linkcode createSSEStream}, {@linkcode createHub}, `redisStore` and
 * {@linkcode connectSSE}: each takes `hooks` and `logger` options, and
 * calls only the hooks that concern it. Absent hooks cost nothing: a
 * stream or connection decides once, when it is made, whether to report.
 *
 * (Over ~150 lines: it is the public hook types, one documented interface
 * per hook, read together as one contract; the code is the two small
 * functions at the end.)
 *
 * @module
 */

import { checkOption, isObject } from "./_checks.ts";

/**
 * Where ssekit writes what it cannot hand to anyone else (a source that
 * threw, a relay that failed, a hook that threw). Pass your own to route
 * them into your logging. @default {console}
 *
 * @example Structured logs
 * ```ts
 * import { createSSEStream, type SSELogger } from "@ssekit/ssekit";
 *
 * const logger: SSELogger = {
 *   error: (message, error) => console.log(JSON.stringify({ level: "error", message, error: String(error) })),
 * };
 * createSSEStream(["hi"], { logger });
 * ```
 */
export interface SSELogger {
  /** Called with a message and the error, as `console.error` is. */
  error(...data: unknown[]): void;
}

/**
 * Why a stream or connection ended:
 * - `"done"`: the source (or, for a client, the server's body) ended;
 * - `"client-left"`: the client went away (the body was cancelled);
 * - `"aborted"`: `options.signal` aborted, or a client was closed. Deno
 *   and Bun abort `request.signal` when the client disconnects, so a
 *   stream given `signal: request.signal` reports a client that left on
 *   them as `"aborted"` (a hub's `response` reports it as `"client-left"`);
 * - `"error"`: the source threw or yielded an invalid event, or a client's
 *   connection failed;
 * - `"stalled"`: the client took nothing for `stallTimeout` ms;
 * - `"slow-consumer"`: a hub subscriber fell out of history (`slow:
 *   "disconnect"`).
 *
 * @example Counting closes by reason
 * ```ts
 * import type { SSECloseReason } from "@ssekit/ssekit";
 *
 * const closes = new Map<SSECloseReason, number>();
 * const count = (reason: SSECloseReason) => closes.set(reason, (closes.get(reason) ?? 0) + 1);
 * count("client-left");
 * ```
 */
export type SSECloseReason =
  | "done"
  | "client-left"
  | "aborted"
  | "error"
  | "stalled"
  | "slow-consumer";

/**
 * Which end reports: `"server"` for a stream of `createSSEStream` (a hub's
 * responses included), `"client"` for a connection of `connectSSE`.
 *
 * @example
 * ```ts
 * import type { SSESide } from "@ssekit/ssekit";
 *
 * const side: SSESide = "server";
 * ```
 */
export type SSESide = "server" | "client";

/**
 * What {@linkcode SSEHooks.onOpen} is told: a server stream began sending
 * (its reader asked for more than the opening `:` line, which it takes at
 * once: a server's second read), or a client connection was accepted
 * (status 200, `text/event-stream`).
 *
 * @example
 * ```ts
 * import type { SSEOpenInfo } from "@ssekit/ssekit";
 *
 * const info: SSEOpenInfo = { side: "client", url: "http://127.0.0.1:8000/events" };
 * ```
 */
export interface SSEOpenInfo {
  /** Which end opened. */
  side: SSESide;
  /** The client's URL; absent on the server. */
  url?: string;
}

/**
 * What {@linkcode SSEHooks.onClose} is told, once per stream or connection
 * that was opened.
 *
 * @example
 * ```ts
 * import type { SSECloseInfo } from "@ssekit/ssekit";
 *
 * const info: SSECloseInfo = { side: "server", reason: "done", events: 3, bytes: 42 };
 * ```
 */
export interface SSECloseInfo {
  /** Which end closed. */
  side: SSESide;
  /** Why it ended. */
  reason: SSECloseReason;
  /** Events sent (server) or messages received (client). */
  events: number;
  /** Bytes written to the body (server) or read from it (client). */
  bytes: number;
  /** The error, for `"error"` and `"stalled"`. */
  error?: unknown;
}

/**
 * What {@linkcode SSEHooks.onSend} is told for every chunk a server stream
 * writes: the opening line, a batch of events, or a keep-alive comment.
 *
 * @example
 * ```ts
 * import type { SSESendInfo } from "@ssekit/ssekit";
 *
 * const info: SSESendInfo = { events: 2, bytes: 24, keepAlive: false };
 * ```
 */
export interface SSESendInfo {
  /** Events in the chunk (0 for the opening line and keep-alives). */
  events: number;
  /** The chunk's length in bytes, as written to the wire. */
  bytes: number;
  /** Whether the chunk is a keep-alive comment. */
  keepAlive: boolean;
}

/**
 * What {@linkcode SSEHooks.onError} is told: where an error happened and
 * the error. `"stream"`: a source threw or yielded an invalid event;
 * `"client"`: a connection failed for good; `"store"`: a hub store's tail
 * failed, ending its topic's subscriptions.
 *
 * @example
 * ```ts
 * import type { SSEErrorInfo } from "@ssekit/ssekit";
 *
 * const info: SSEErrorInfo = { where: "stream", error: new Error("boom") };
 * ```
 */
export interface SSEErrorInfo {
  /** What failed. */
  where: "stream" | "client" | "store";
  /** The error. */
  error: unknown;
}

/**
 * What {@linkcode SSEHooks.onResume} is told when a hub subscriber that
 * came with a `Last-Event-ID` has replayed the history after it.
 *
 * @example
 * ```ts
 * import type { SSEResumeInfo } from "@ssekit/ssekit";
 *
 * const info: SSEResumeInfo = { topic: "news", lastEventId: "1732250000000-41", replayed: 12, gap: false };
 * ```
 */
export interface SSEResumeInfo {
  /** The topic resumed. */
  topic: string;
  /** The id it resumed after. */
  lastEventId: string;
  /** Events replayed from history. */
  replayed: number;
  /** Whether history no longer reached back to the id (a reset was sent). */
  gap: boolean;
}

/**
 * What {@linkcode SSEHooks.onReconnect} is told when a reconnection is
 * scheduled: by a client (`connectSSE`), or by a Redis store's tail
 * connection.
 *
 * @example
 * ```ts
 * import type { SSEReconnectInfo } from "@ssekit/ssekit";
 *
 * const info: SSEReconnectInfo = { where: "client", attempt: 1, delay: 3200, status: 503 };
 * ```
 */
export interface SSEReconnectInfo {
  /** Who reconnects. */
  where: "client" | "store";
  /** Failed attempts in a row so far (0 after a connection that was open). */
  attempt: number;
  /** Milliseconds until the next attempt. */
  delay: number;
  /** The status of a retried response (408, 429, 5xx); absent otherwise. */
  status?: number;
  /** Why the last connection ended: an error, or absent when it just ended. */
  error?: unknown;
}

/**
 * What {@linkcode SSEHooks.onSlowConsumer} is told when a hub subscriber
 * fell `maxQueue` events behind: `"drop"` per event dropped (`slow:
 * "drop-oldest"`), `"disconnect"` when a subscription was ended for it.
 *
 * @example
 * ```ts
 * import type { SSESlowConsumerInfo } from "@ssekit/ssekit";
 *
 * const info: SSESlowConsumerInfo = { topic: "prices", action: "drop" };
 * ```
 */
export interface SSESlowConsumerInfo {
  /** The subscriber's topic. */
  topic: string;
  /** What was done about it. */
  action: "drop" | "disconnect";
}

/**
 * What {@linkcode SSEHooks.onReset} is told when a hub subscriber is sent
 * the reset event: `"history"` (its id was no longer in history, or the
 * store lost entries) or `"overflow"` (`"drop-oldest"` dropped events).
 *
 * @example
 * ```ts
 * import type { SSEResetInfo } from "@ssekit/ssekit";
 *
 * const info: SSEResetInfo = { topic: "news", reason: "history" };
 * ```
 */
export interface SSEResetInfo {
  /** The subscriber's topic. */
  topic: string;
  /** The reset event's data. */
  reason: "history" | "overflow";
}

/**
 * What {@linkcode SSEHooks.onTailLag} is told for each entry a Redis
 * store's tail delivers: milliseconds from the append (the time in its id,
 * Redis's clock) to its delivery here (this process's clock).
 *
 * @example
 * ```ts
 * import type { SSETailLagInfo } from "@ssekit/ssekit";
 *
 * const info: SSETailLagInfo = { topic: "news", lag: 2 };
 * ```
 */
export interface SSETailLagInfo {
  /** The stream key of the topic. */
  topic: string;
  /** Milliseconds between the append and the delivery. */
  lag: number;
}

/**
 * Lifecycle hooks: give the same object to `createSSEStream`, `createHub`
 * (it passes them to the streams of `hub.response`), `redisStore` and
 * `connectSSE`; each calls the ones that concern it. A hook that throws is
 * reported to the logger and otherwise ignored. {@linkcode sseMetrics}
 * makes a set that counts.
 *
 * @example Logging closes
 * ```ts
 * import { createSSEStream, type SSEHooks } from "@ssekit/ssekit";
 *
 * const hooks: SSEHooks = {
 *   onClose: ({ side, reason, events, bytes }) =>
 *     console.log(`${side} stream closed (${reason}) after ${events} events, ${bytes} bytes`),
 * };
 * createSSEStream(["hi"], { hooks });
 * ```
 */
export interface SSEHooks {
  /** A stream began sending, or a client connection opened. */
  onOpen?(info: SSEOpenInfo): void;
  /** A stream or connection that opened has ended. */
  onClose?(info: SSECloseInfo): void;
  /** A server stream wrote a chunk. */
  onSend?(info: SSESendInfo): void;
  /** A source, a store's tail, or a client failed. */
  onError?(info: SSEErrorInfo): void;
  /** A hub subscriber replayed history after its `Last-Event-ID`. */
  onResume?(info: SSEResumeInfo): void;
  /** A client or a Redis tail connection will reconnect. */
  onReconnect?(info: SSEReconnectInfo): void;
  /** A hub subscriber fell behind: an event dropped, or it was ended. */
  onSlowConsumer?(info: SSESlowConsumerInfo): void;
  /** A hub subscriber was sent the reset event. */
  onReset?(info: SSEResetInfo): void;
  /** A Redis store's tail delivered an entry this late. */
  onTailLag?(info: SSETailLagInfo): void;
}

/**
 * The hooks and logger options that `createSSEStream`, `createHub`,
 * `redisStore` and `connectSSE` take.
 *
 * @example One set for a whole app
 * ```ts
 * import { sseMetrics, type SSEHookOptions } from "@ssekit/ssekit";
 *
 * const observability: SSEHookOptions = { hooks: sseMetrics().hooks, logger: console };
 * ```
 */
export interface SSEHookOptions {
  /** Lifecycle hooks; see {@linkcode SSEHooks}. */
  hooks?: SSEHooks;
  /** Where errors no one else receives go. @default {console} */
  logger?: SSELogger;
}

// Checks the hook options where they are given, so a mistake throws there
// rather than in the middle of a stream. `owner` names the function given
// them; "SSE" until every caller names its own.
export function checkHookOptions(
  options: SSEHookOptions,
  owner = "SSE",
): void {
  const { hooks, logger } = options;
  checkOption(
    hooks === undefined || isObject(hooks),
    owner,
    "hooks",
    "an object of hook functions",
    hooks,
  );
  checkOption(
    logger === undefined ||
      typeof (logger as Partial<SSELogger> | null)?.error === "function",
    owner,
    "logger",
    "an object with an error(...data) method",
    logger,
  );
}

/**
 * Calls hook `name` of `hooks` with `info`; a hook that throws is logged,
 * never thrown into the stream, store or client that called it.
 */
export function callHook<K extends keyof SSEHooks>(
  hooks: SSEHooks,
  name: K,
  info: Parameters<NonNullable<SSEHooks[K]>>[0],
  logger: SSELogger = console,
): void {
  const hook = hooks[name] as ((info: unknown) => void) | undefined;
  if (hook === undefined) return;
  try {
    hook.call(hooks, info);
  } catch (error) {
    try {
      logger.error(`ssekit: the ${name} hook threw:`, error);
    } catch {
      // A logger that throws has nowhere left to report to.
    }
  }
}
