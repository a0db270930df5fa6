/**
 * The options of {@linkcode createHub} and of its hub's `subscribe` and
 * `response` (re-exported by `hub.ts`).
 *
 * A little over ~150 lines: the options are their documentation.
 *
 * @module
 */

import type { SSEStreamOptions } from "./stream.ts";
import type { SSEHookOptions } from "./hooks.ts";
import type { HubHistory, HubStore } from "./store.ts";
import type { SSEEvents } from "./events.ts";

/**
 * Options for {@linkcode createHub}.
 *
 * @example A hub for a flaky mobile audience
 * ```ts
 * import { createHub, type HubOptions } from "@ssekit/ssekit";
 *
 * const options: HubOptions = {
 *   history: { max: 5_000, ttl: 10 * 60_000 },
 *   maxQueue: 500,
 *   slow: "disconnect",
 *   closeRetry: { min: 2_000, max: 15_000 },
 * };
 * const hub = createHub(options);
 * await hub.close();
 * ```
 */
export interface HubOptions extends SSEHookOptions {
  /**
   * Turns non-string `data` into text, once per published event. It must
   * return a string. @default {JSON.stringify}
   */
  serialize?: (data: unknown) => string;
  /**
   * The events of the hub's topics ({@linkcode defineEvents}): `publish`
   * and `end` then take only events of its map (checked at compile time),
   * and every event's data is stored as JSON, strings included, as typed
   * clients expect.
   */
  // deno-lint-ignore no-explicit-any
  events?: SSEEvents<any>;
  /**
   * Where events, ids and history live; the hub owns it and closes it.
   * @default {memoryStore(history)}
   */
  store?: HubStore;
  /**
   * History bounds for the default memory store. With `store`, give them to
   * the store instead. @default {DEFAULT_HISTORY}
   */
  history?: HubHistory;
  /**
   * Most events held in memory for one subscriber (a safe integer ≥ 1).
   * Keep it well below `history.max`, so a subscriber that falls behind
   * can go on from history. @default {256}
   */
  maxQueue?: number;
  /**
   * What happens when a subscriber has `maxQueue` events waiting and
   * another comes. Falling behind is not being slow: a burst of publishes
   * fills every queue at once, and a stalled store delivers its backlog in
   * one go, while the subscribers are reading as fast as they can.
   *
   * - `"disconnect"`: the subscriber goes on from history, at its own pace,
   *   with nothing more held for it, and returns to live events once it has
   *   caught up. Only if history no longer reaches back to where it is does
   *   its subscription end; an `EventSource` then reconnects with its
   *   `Last-Event-ID` and gets the reset event. A client whose socket stops
   *   draining is let go by the stream's `stallTimeout`.
   * - `"drop-oldest"`: the oldest waiting event is dropped, and the
   *   subscriber gets a reset event (see `resetEvent`) with data
   *   `"overflow"` before the events that remain: for feeds where only the
   *   newest values matter.
   *
   * @default {"disconnect"}
   */
  slow?: "disconnect" | "drop-oldest";
  /**
   * The type of the event that tells a subscriber it missed events: sent
   * first on a resume whose id is not in history (data `"history"`), and
   * where `"drop-oldest"` dropped events (data `"overflow"`). Listen with
   * `source.addEventListener("reset", …)`. @default {"reset"}
   */
  resetEvent?: string;
  /**
   * The range (ms) of the `retry` hint each open stream gets when the hub
   * closes, picked at random per stream so clients come back spread out.
   * @default {{ min: 1000, max: 5000 }}
   */
  closeRetry?: { min: number; max: number };
  // The hooks (SSEHookOptions) are the hub's own (onResume,
  // onSlowConsumer, onReset, and onError for a failed tail), and the
  // default hooks of the streams of `response`.
  /**
   * Most runs of {@linkcode Hub.relay} this instance carries at once (a
   * safe integer ≥ 1); past it, `relay` rejects with a `RangeError`. On
   * Bun, `fetch` itself runs at most 256 requests at once unless
   * `BUN_CONFIG_MAX_HTTP_REQUESTS` raises it: runs past that wait for their
   * upstream. @default {1000}
   */
  maxRelays?: number;
}

/**
 * Options for {@linkcode Hub.subscribe}.
 *
 * @example Resuming after an id, until a signal aborts
 * ```ts
 * import type { HubSubscribeOptions } from "@ssekit/ssekit";
 *
 * const options: HubSubscribeOptions = {
 *   lastEventId: "1732250000000-41",
 *   signal: AbortSignal.timeout(60_000),
 * };
 * ```
 */
export interface HubSubscribeOptions {
  /**
   * Replay every event after this id first. An id no longer (or never) in
   * history gets the reset event, then the oldest event kept. Absent or
   * `""`: live events only, from where the topic's tail is; with a remote
   * store (Redis) whose tail this instance is only starting, that is one
   * round trip after the call, so "after this id" is the exact guarantee.
   */
  lastEventId?: string;
  /** Ends the subscription when aborted; its queue is released at once. */
  signal?: AbortSignal;
}

/**
 * Options for {@linkcode Hub.response}: those of `createSSEStream`, plus
 * what to do about a topic the store knows nothing of.
 *
 * @example Following the topic of an LLM reply, which only hub.relay makes
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHub } from "@ssekit/ssekit";
 *
 * const hub = createHub();
 * // A fetch handler, for Deno.serve, Bun.serve, a Worker or serve() of
 * // "@ssekit/ssekit/node".
 * function reply(request: Request): Promise<Response> {
 *   const topic = new URL(request.url).searchParams.get("reply") ?? "";
 *   return hub.response(request, `reply:${topic}`, { missing: "404" });
 * }
 *
 * // A reply that no run made, or that expired:
 * const response = await reply(new Request("http://localhost/?reply=r42"));
 * assert.equal(response.status, 404);
 * await hub.close();
 * ```
 */
export interface HubResponseOptions extends SSEStreamOptions {
  /**
   * A topic with no events, no end and no run of {@linkcode Hub.relay}
   * (never used, or expired): `"wait"` subscribes and waits for its first
   * event; `"404"` answers `404 Not Found` (with `headers`), for topics
   * that only a run makes, whose id a client may hold after they expired.
   * @default {"wait"}
   */
  missing?: "wait" | "404";
}
