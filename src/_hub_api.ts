/**
 * The {@linkcode Hub} interface, its typed form and its stats (re-exported
 * by `hub.ts`).
 *
 * Larger than most units (~200 lines): the interface is the hub's
 * documentation, one method after another.
 *
 * @module
 */

import type { SSEEvent } from "./types.ts";
import type { SSEEventMap, TypedSSEEvent } from "./events.ts";
import type { RelayUpstream } from "./relay.ts";
import type { HubRelayOptions, HubRelayRun } from "./hub_relay.ts";
import type {
  HubResponseOptions,
  HubSubscribeOptions,
} from "./_hub_options.ts";

/**
 * A hub whose topics carry the events of map `M` (see
 * {@linkcode defineEvents}): `publish` and `end` take only those, checked
 * at compile time.
 *
 * @example A typed hub
 * ```ts
 * import { createHub, defineEvents } from "@ssekit/ssekit";
 *
 * const hub = createHub({ events: defineEvents<{ price: number }>() });
 * await hub.publish("acme", { event: "price", data: 9.5 });
 * const typo = { event: "prise", data: 9.5 } as const;
 * // @ts-expect-error: "prise" is not one of the map's events
 * await hub.publish("acme", typo).catch(() => {});
 * await hub.close();
 * ```
 */
export interface TypedHub<M extends SSEEventMap>
  extends Omit<Hub, "publish" | "end"> {
  /** As {@linkcode Hub.publish}, for the map's events. */
  publish(topic: string, event: TypedSSEEvent<M>): Promise<string>;
  /** As {@linkcode Hub.end}, for the map's events. */
  end(topic: string, event?: TypedSSEEvent<M>): Promise<string>;
}

/**
 * A snapshot of a hub's load, for metrics.
 *
 * @example Exporting gauges
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHub, type HubStats } from "@ssekit/ssekit";
 *
 * const hub = createHub();
 * hub.subscribe("news");
 * const stats: HubStats = hub.stats();
 * assert.equal(`sse_subscribers ${stats.subscribers}`, "sse_subscribers 1");
 * await hub.close();
 * ```
 */
export interface HubStats {
  /** Topics with at least one subscriber. */
  topics: number;
  /** Open subscriptions. */
  subscribers: number;
  /** Events waiting in all subscribers' queues. */
  queued: number;
  /** The longest queue of one subscriber; never above `maxQueue`. */
  maxQueued: number;
}

/**
 * A publish/subscribe hub for Server-Sent Events; see {@linkcode createHub}.
 *
 * @example Publishing and serving a topic
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHub, type Hub, parseSSE } from "@ssekit/ssekit";
 *
 * const hub: Hub = createHub();
 * // A fetch handler, for Deno.serve, Bun.serve, a Worker or serve() of
 * // "@ssekit/ssekit/node".
 * const news = (request: Request) => hub.response(request, "news");
 *
 * const response = await news(new Request("http://localhost/"));
 * await hub.publish("news", { data: "Hello" });
 * for await (const message of parseSSE(response)) {
 *   assert.equal(message.data, "Hello");
 *   break; // the client leaves: its subscription ends
 * }
 * await hub.close();
 * ```
 */
export interface Hub {
  /**
   * Stores `event` under the next id of `topic` and delivers it to every
   * subscriber; resolves to the id. It never waits for a subscriber.
   *
   * The hub assigns ids, so an event that carries its own `id` is rejected,
   * as is any event {@linkcode formatEvent} would reject: a bad event fails
   * here, never in a subscriber's stream. Non-string `data` is serialized
   * once, here, with the hub's `serialize` (`JSON.stringify` by default).
   *
   * @throws {TypeError} (as a rejection) When the hub is closed, the topic
   * is not a non-empty string, or the event is invalid or has an `id`.
   */
  publish(topic: string, event: SSEEvent | string): Promise<string>;
  /**
   * Subscribes to `topic`, at once: events published after this call are
   * kept for the iterator (up to `maxQueue`) even before it is first read.
   * With `lastEventId`, the history after it comes first, then live events:
   * each event exactly once, in order. Entries are yielded as stored
   * (frozen, `data` serialized), plus a reset event where events were
   * missed. When the hub closes, the iterator yields `{ retry }` (a
   * reconnection hint) and ends. Break out of the loop, call `return()` or
   * abort `signal` to end it early.
   *
   * @throws {TypeError} When the hub is closed or an argument is invalid.
   */
  subscribe(
    topic: string,
    options?: HubSubscribeOptions,
  ): AsyncIterableIterator<SSEEvent>;
  /**
   * Ends `topic`: `event`, if given, is its last event; live subscribers
   * get it and their streams close; a client resuming from an id before the
   * end gets what it missed, then the close; a client that comes after the
   * end gets `204 No Content` from {@linkcode Hub.response}, which stops
   * `EventSource` from reconnecting. Resolves to the end's id, which the
   * last event carries (or an id-only block, without an event). The store
   * refuses later publishes to the topic until its history expires.
   *
   * @throws {TypeError} (as a rejection) When the hub is closed, the topic
   * is invalid or has ended already, or the event is invalid.
   */
  end(topic: string, event?: SSEEvent | string): Promise<string>;
  /**
   * Reads an upstream event stream (an LLM's reply: the same upstream forms
   * and `map` as `relaySSE`) to its end on this instance, detached from any
   * client: each mapped event is published to `topic` (the hub assigns the
   * ids), and the topic ends when the upstream does, after an error event
   * when it fails or times out. Clients follow with `response(request,
   * topic)`, leave, and resume with `Last-Event-ID` on any instance,
   * mid-reply. Resolves once the run holds the topic; its `done` settles
   * when it is over.
   *
   * On a store shared by instances (Redis), the run holds a lease on the
   * topic: {@linkcode Hub.abort} on any instance stops it within a second,
   * and if this instance dies, another ends the topic with an error event
   * within seconds, so followers never wait forever.
   *
   * @throws {TypeError} (as a rejection) When the hub is closed, the topic
   * is invalid, has ended or has a run already, or an option is invalid.
   * @throws {RangeError} (as a rejection) Past `maxRelays` runs, or for a
   * bad timeout.
   */
  relay(
    topic: string,
    upstream: RelayUpstream,
    options?: HubRelayOptions,
  ): Promise<HubRelayRun>;
  /**
   * Stops the run of {@linkcode Hub.relay} on `topic`, on this instance or,
   * through the store, on the one that runs it. Its topic ends after an
   * error event of type `aborted`. Resolves to whether there was a run to
   * stop.
   */
  abort(topic: string): Promise<boolean>;
  /**
   * A `text/event-stream` response for `topic`: resumes after the
   * `Last-Event-ID` header or, on a first connection (where `EventSource`
   * cannot set headers), after a `lastEventId` query parameter; the header
   * wins. It is `createSSEStream(subscription, { signal: request.signal,
   * ...options })`. A topic that has ended answers `204 No Content` (with
   * `options.headers`, for CORS) to a client that has all of it. After
   * `close()` it answers a stream holding only a jittered `retry` hint, so
   * `EventSource` clients come back later instead of failing for good on an
   * error status.
   *
   * @throws {TypeError} (as a rejection) When the topic or an option is
   * invalid.
   */
  response(
    request: Request,
    topic: string,
    options?: HubResponseOptions,
  ): Promise<Response>;
  /** Counts subscribers and queued events. */
  stats(): HubStats;
  /**
   * Ends every subscription: each gets what was already queued, then a
   * `retry` hint between `closeRetry.min` and `.max`, then its end. Then it
   * closes the store. Afterwards `publish` rejects and `subscribe` throws.
   * Calling it again returns the same promise.
   */
  close(): Promise<void>;
}
