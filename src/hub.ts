/**
 * {@linkcode createHub}: publish an event once, fan it out to every
 * subscriber of its topic, and let reconnecting clients resume from their
 * `Last-Event-ID` without gaps or duplicates.
 *
 * The hub keeps no events itself: a {@linkcode HubStore} assigns ids, keeps a
 * bounded history and tails new entries. {@linkcode memoryStore} is the
 * in-process store; the interface is shaped so a Redis Streams store (`XADD`
 * with `MAXLEN`/`MINID`, `XRANGE`, blocking `XREAD`) can implement it too.
 *
 * @module
 */

import { formatEvent, type FormatEventOptions } from "./encode.ts";
import { createSSEStream, type SSEStreamOptions } from "./stream.ts";
import type { SSEEvent } from "./types.ts";
import { getLastEventId } from "./last_event_id.ts";
import { checkCallback, checkOption, describe, isCount } from "./_checks.ts";
import {
  callHook,
  checkHookOptions,
  type SSEHookOptions,
  type SSEHooks,
  type SSELogger,
} from "./hooks.ts";
import type {
  HubEntry,
  HubHistory,
  HubLeaseState,
  HubReadResult,
  HubRecord,
  HubStore,
  HubTailHandler,
} from "./store.ts";
import { historyBounds } from "./store.ts";
import { memoryStore } from "./memory_store.ts";
import {
  checkEvents,
  jsonEvent,
  type SSEEventMap,
  type SSEEvents,
  type TypedSSEEvent,
} from "./events.ts";
import {
  type SubscribedTopic,
  Subscription,
  type SubscriptionHost,
} from "./_hub_subscription.ts";
import type { RelayUpstream } from "./relay.ts";
import {
  DEFAULT_MAX_RELAYS,
  type HubRelayOptions,
  type HubRelayOutcome,
  type HubRelayRun,
  HubRelays,
} from "./hub_relay.ts";

// Re-exported so this module documents on its own (deno doc --lint),
// the store's types included: the options name the store.
export type {
  FormatEventOptions,
  HubEntry,
  HubHistory,
  HubLeaseState,
  HubReadResult,
  HubRecord,
  HubRelayOptions,
  HubRelayOutcome,
  HubRelayRun,
  HubStore,
  HubTailHandler,
  RelayUpstream,
  SSEEvent,
  SSEStreamOptions,
};

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

/** Who the hub's options are given to, as option errors name it. */
const OWNER = "createHub";
const DEFAULT_MAX_QUEUE = 256;
const DEFAULT_CLOSE_RETRY = { min: 1_000, max: 5_000 };
function hubClosed(method: string): TypeError {
  return new TypeError(
    `The hub is closed: ${method}() is not allowed after close(); create a new hub`,
  );
}

/** The longest topic name, in UTF-16 code units. */
const MAX_TOPIC_LENGTH = 1_024;
// Control characters and lone surrogates: a name with them is a mistake
// or an attack (log injection, keys two names could share).
const BAD_TOPIC =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkTopic(topic: unknown): asserts topic is string {
  if (
    typeof topic !== "string" || topic === "" ||
    topic.length > MAX_TOPIC_LENGTH || BAD_TOPIC.test(topic)
  ) {
    throw new TypeError(
      `Invalid topic: expected a non-empty string of at most ${MAX_TOPIC_LENGTH} characters without control characters or lone surrogates, got ${
        typeof topic !== "string"
          ? describe(topic)
          : topic.length > MAX_TOPIC_LENGTH
          ? `${topic.length} characters`
          : JSON.stringify(topic)
      }`,
    );
  }
}

// The hooks of a response's stream, made per response and only where the
// hub has hooks: a subscription ended for falling behind looks done to its
// stream, and is reported as "slow-consumer"; where the stream's signal is
// the request's, its abort is the client leaving (Deno and Bun abort it
// when the client disconnects).
function streamHooks(
  hooks: SSEHooks,
  subscription: Subscription,
  requestSignal: boolean,
): SSEHooks {
  const { onClose } = hooks;
  if (onClose === undefined) return hooks;
  const wrapped: SSEHooks = Object.create(hooks);
  wrapped.onClose = (info) =>
    onClose.call(
      hooks,
      info.reason === "done" && subscription.slow
        ? { ...info, reason: "slow-consumer" }
        : info.reason === "aborted" && requestSignal
        ? { ...info, reason: "client-left" }
        : info,
    );
  return wrapped;
}

interface Topic extends SubscribedTopic {
  readonly aborter: AbortController;
  /** The tail is established and has been checked for an end. */
  live: boolean;
}

class HubCore implements Hub, SubscriptionHost {
  readonly store: HubStore;
  readonly maxQueue: number;
  readonly dropOldest: boolean;
  readonly resetEvent: string;
  readonly hooks: SSEHooks | undefined;
  readonly logger: SSELogger;
  /** The logger as given, for the streams of `response`. */
  readonly #logger: SSELogger | undefined;
  readonly #serialize: ((data: unknown) => string) | undefined;
  /** Typed topics: every event's data is stored as JSON. */
  readonly #events: boolean;
  readonly #retryMin: number;
  readonly #retrySpan: number;
  readonly #topics = new Map<string, Topic>();
  readonly #relays: HubRelays;
  /** What running relays will have settled by. */
  readonly #running = new Set<Promise<HubRelayOutcome>>();
  #closing: Promise<void> | undefined;

  constructor(options: HubOptions) {
    checkOption(
      options.store === undefined || options.history === undefined,
      OWNER,
      "history",
      "no history beside a store: history configures the default memory store; give the bounds to the store (memoryStore({ max, ttl }))",
      options.history,
    );
    // Checked here, not in memoryStore, so the message names createHub's
    // history option.
    const store = options.store ??
      memoryStore(historyBounds(options.history ?? {}));
    for (
      const method of ["append", "read", "tail", "compare", "close"] as const
    ) {
      checkOption(
        typeof store?.[method] === "function",
        OWNER,
        "store",
        `a HubStore with append, read, tail, compare and close methods (${method} is ${typeof store
          ?.[method]})`,
        store,
      );
    }
    this.store = store;
    checkHookOptions(options, OWNER);
    this.hooks = options.hooks;
    this.#logger = options.logger;
    this.logger = options.logger ?? console;

    const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    checkOption(
      isCount(maxQueue, 1),
      OWNER,
      "maxQueue",
      "a safe integer ≥ 1 (events per subscriber)",
      maxQueue,
      RangeError,
    );
    this.maxQueue = maxQueue;

    const slow = options.slow ?? "disconnect";
    checkOption(
      slow === "disconnect" || slow === "drop-oldest",
      OWNER,
      "slow",
      '"disconnect" or "drop-oldest"',
      slow,
    );
    this.dropOldest = slow === "drop-oldest";

    const resetEvent = options.resetEvent ?? "reset";
    checkOption(
      typeof resetEvent === "string" && resetEvent !== "",
      OWNER,
      "resetEvent",
      "a non-empty event type",
      resetEvent,
    );
    formatEvent({ event: resetEvent }); // Throws on CR or LF.
    this.resetEvent = resetEvent;

    const { serialize } = options;
    checkCallback(OWNER, "serialize", serialize);
    this.#serialize = serialize;
    checkEvents(options.events, OWNER);
    this.#events = options.events !== undefined;

    const { min, max } = options.closeRetry ?? DEFAULT_CLOSE_RETRY;
    checkOption(
      isCount(min, 0) && isCount(max, min),
      OWNER,
      "closeRetry",
      "{ min, max } with safe integer milliseconds, 0 ≤ min ≤ max",
      options.closeRetry,
      RangeError,
    );
    this.#retryMin = min;
    this.#retrySpan = max - min;

    const maxRelays = options.maxRelays ?? DEFAULT_MAX_RELAYS;
    checkOption(
      isCount(maxRelays, 1),
      OWNER,
      "maxRelays",
      "a safe integer ≥ 1",
      maxRelays,
      RangeError,
    );
    // A run ends its own topic, also while the hub closes.
    this.#relays = new HubRelays({
      store,
      logger: this.logger,
      publish: (topic, event) => this.publish(topic, event),
      end: async (topic, event) =>
        await this.store.append(topic, {
          ...(event === undefined ? {} : this.#record(event)),
          end: true,
        }),
    }, maxRelays);
  }

  async relay(
    topic: string,
    upstream: RelayUpstream,
    options: HubRelayOptions = {},
  ): Promise<HubRelayRun> {
    if (this.#closing) throw hubClosed("relay");
    checkTopic(topic);
    const run = await this.#relays.start(topic, upstream, options);
    this.#running.add(run.done);
    run.done.finally(() => this.#running.delete(run.done));
    return run;
  }

  async abort(topic: string): Promise<boolean> {
    checkTopic(topic);
    return await this.#relays.abort(topic);
  }

  publish(topic: string, event: SSEEvent | string): Promise<string> {
    try {
      if (this.#closing) throw hubClosed("publish");
      checkTopic(topic);
      // append() runs synchronously within this call, so concurrent
      // publishes get ids in call order.
      return Promise.resolve(this.store.append(topic, this.#record(event)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  end(topic: string, event?: SSEEvent | string): Promise<string> {
    try {
      if (this.#closing) throw hubClosed("end");
      checkTopic(topic);
      const record = event === undefined ? {} : this.#record(event);
      return Promise.resolve(
        this.store.append(topic, { ...record, end: true }),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #record(given: SSEEvent | string): HubRecord {
    const event = this.#events ? jsonEvent(given) : given;
    if (typeof event === "string") return { data: event };
    if (typeof event !== "object" || event === null) {
      throw new TypeError(
        `Invalid published event: expected a string or an object with data, event, retry or comment, got ${
          describe(event)
        }`,
      );
    }
    if (event.id !== undefined) {
      throw new TypeError(
        `Invalid published event: the hub assigns ids and publish() resolves to the new one; remove the "id" field, got ${
          describe(event.id)
        }`,
      );
    }
    const { data, event: type, retry, comment } = event;
    const record: {
      -readonly [K in keyof HubRecord]: HubRecord[K];
    } = {};
    if (type !== undefined) record.event = type;
    if (retry !== undefined) record.retry = retry;
    if (comment !== undefined) record.comment = comment;
    if (data !== undefined) {
      const text = typeof data === "string"
        ? data
        : (this.#serialize ?? JSON.stringify)(data);
      if (typeof text !== "string") {
        throw new TypeError(
          `Invalid SSE event field "data": serialize must return a string, got ${typeof text}`,
        );
      }
      record.data = text;
    }
    // Validates every field exactly as the stream will format it.
    formatEvent(record as SSEEvent);
    return record;
  }

  subscribe(
    topic: string,
    options: HubSubscribeOptions = {},
  ): AsyncIterableIterator<SSEEvent> {
    if (this.#closing) throw hubClosed("subscribe");
    checkTopic(topic);
    const { lastEventId, signal } = options;
    if (lastEventId !== undefined && typeof lastEventId !== "string") {
      throw new TypeError(
        `Invalid subscribe option "lastEventId": expected a string, got ${typeof lastEventId}`,
      );
    }
    if (
      signal !== undefined &&
      typeof (signal as Partial<AbortSignal>)?.addEventListener !== "function"
    ) {
      throw new TypeError(
        `Invalid subscribe option "signal": expected an AbortSignal, got ${typeof signal}`,
      );
    }
    return new Subscription(
      this,
      this.#topic(topic),
      lastEventId || undefined,
      signal,
    );
  }

  async response(
    request: Request,
    topic: string,
    options: HubResponseOptions = {},
  ): Promise<Response> {
    const { missing = "wait", ...streamOptions } = options;
    if (this.#closing) return this.#closed(request, streamOptions);
    checkTopic(topic);
    if (missing !== "wait" && missing !== "404") {
      throw new TypeError(
        `Invalid response option "missing": expected "wait" or "404", got ${
          describe(missing)
        }`,
      );
    }
    const lastEventId = getLastEventId(request) || undefined;
    const known = this.#topics.get(topic);
    // Has the topic ended, and has this client all of it? Is it there at
    // all? The hub knows for a topic it tails; otherwise a read tells.
    // Headers the caller gave go on every answer (CORS among them), or a
    // browser takes a 204 or 404 for a network error and reconnects.
    const status = (code: number) =>
      new Response(null, { status: code, headers: options.headers });
    if (!known?.live || lastEventId !== undefined || missing === "404") {
      const { end, gap, entries, absent } = await this.store.read(
        topic,
        lastEventId ?? "",
        1,
      );
      if (
        end !== undefined &&
        (lastEventId === undefined || (!gap && entries.length === 0))
      ) return status(204);
      if (missing === "404" && absent && !this.#relays.has(topic)) {
        return status(404);
      }
    } else if (known.end !== undefined) return status(204);
    if (this.#closing) return this.#closed(request, streamOptions);
    const subscription = this.subscribe(topic, { lastEventId });
    try {
      // Without hooks or a logger, the options are what they were before
      // either existed: each of thousands of streams keeps its own.
      if (this.hooks === undefined && this.#logger === undefined) {
        return createSSEStream(subscription, {
          signal: request.signal,
          ...streamOptions,
        });
      }
      return createSSEStream(subscription, {
        signal: request.signal,
        hooks: this.hooks &&
          streamHooks(
            this.hooks,
            subscription as Subscription,
            streamOptions.signal === undefined,
          ),
        logger: this.logger,
        ...streamOptions,
      });
    } catch (error) {
      subscription.return!();
      throw error;
    }
  }

  #closed(request: Request, options: SSEStreamOptions): Response {
    return createSSEStream([{ retry: this.closeRetry() }], {
      signal: request.signal,
      ...options,
    });
  }

  stats(): HubStats {
    let subscribers = 0;
    let queued = 0;
    let maxQueued = 0;
    for (const topic of this.#topics.values()) {
      for (const subscription of topic.subscribers) {
        subscribers++;
        const size = subscription.size();
        queued += size;
        if (size > maxQueued) maxQueued = size;
      }
    }
    return { topics: this.#topics.size, subscribers, queued, maxQueued };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Runs end their topics (as aborted) before the store closes.
      this.#relays.close();
      await Promise.allSettled(this.#running);
      this.#relays.watch(false);
      const topics = [...this.#topics.values()];
      this.#topics.clear();
      for (const topic of topics) {
        topic.aborter.abort();
        for (const subscription of topic.subscribers) {
          subscription.close(this.closeRetry());
        }
        topic.subscribers.clear();
      }
      await this.store.close();
    })();
    return this.#closing;
  }

  closeRetry(): number {
    return this.#retryMin + Math.round(Math.random() * this.#retrySpan);
  }

  #topic(name: string): Topic {
    const existing = this.#topics.get(name);
    if (existing) return existing;
    const subscribers = new Set<Subscription>();
    const aborter = new AbortController();
    // Subscriptions write to their streams within push (see pushTo), where
    // hooks run: an entry a hook publishes waits for the one under way,
    // so every subscriber gets both in order. undefined stands for a gap.
    let delivering = false;
    const later: (HubEntry | undefined)[] = [];
    const deliver = (entry: HubEntry | undefined) => {
      if (entry === undefined) {
        for (const subscription of subscribers) subscription.gap();
        return;
      }
      if (entry.end) topic.end = entry.id;
      for (const subscription of subscribers) subscription.push(entry);
    };
    const fanOut = (entry: HubEntry | undefined) => {
      if (delivering) return void later.push(entry);
      delivering = true;
      try {
        deliver(entry);
        for (let i = 0; i < later.length; i++) deliver(later[i]);
      } finally {
        delivering = false;
        later.length = 0;
      }
    };
    const handler: HubTailHandler = {
      entry: fanOut,
      gap: () => fanOut(undefined),
      error: (reason) => {
        if (this.hooks) {
          callHook(
            this.hooks,
            "onError",
            { where: "store", error: reason },
            this.logger,
          );
        }
        if (this.#topics.get(name) === topic) this.#topics.delete(name);
        aborter.abort();
        for (const subscription of [...subscribers]) {
          subscription.fail(reason);
        }
      },
    };
    let ready: Promise<void>;
    try {
      ready = Promise.resolve(this.store.tail(name, handler, aborter.signal));
    } catch (error) {
      ready = Promise.reject(error);
    }
    // Live-only subscribers never await `ready`; they learn of a failed
    // tail through the handler, and of an end from before the tail began
    // through one read once it has.
    ready.then(() => this.store.read(name, "", 1)).then(({ end }) => {
      if (aborter.signal.aborted) return;
      topic.live = true;
      if (end === undefined || topic.end !== undefined) return;
      topic.end = end;
      for (const subscription of [...subscribers]) subscription.topicEnded();
    }).catch((error) => {
      if (!aborter.signal.aborted) handler.error(error);
    });
    const topic: Topic = {
      name,
      subscribers,
      aborter,
      ready,
      live: false,
      end: undefined,
    };
    this.#topics.set(name, topic);
    // Followers need dead runs reaped, even where none runs here.
    this.#relays.watch(true);
    return topic;
  }

  /** Called by a subscription that ended, so its topic can stop tailing. */
  leave(topic: Topic, subscription: Subscription): void {
    topic.subscribers.delete(subscription);
    if (
      topic.subscribers.size === 0 && this.#topics.get(topic.name) === topic
    ) {
      this.#topics.delete(topic.name);
      topic.aborter.abort();
      this.#relays.watch(this.#topics.size > 0);
    }
  }
}

/**
 * Creates a {@linkcode Hub}: `publish(topic, event)` stores an event under a
 * new id and fans it out to the topic's subscribers; `subscribe` and
 * `response` deliver it, resuming after a `Last-Event-ID` without gaps or
 * duplicates.
 *
 * - **Ids** come from the store, increase per topic, and are the events'
 *   SSE ids, so `EventSource` sends the last one back when it reconnects.
 *   Events with an id of their own are rejected.
 * - **Resume:** history after the id is replayed, then live events follow,
 *   each exactly once and in order, even while publishers race the replay.
 * - **Gaps are announced:** if the id is no longer in history (or unknown,
 *   malformed, or from another hub or an earlier process), the first event
 *   is `event: reset` with `data: history`, then the oldest event kept.
 *   A browser listens with `source.addEventListener("reset", …)` and
 *   reloads its state.
 * - **Slow subscribers** hold at most `maxQueue` events; then `slow`
 *   decides: `"disconnect"` (the client resumes from history) or
 *   `"drop-oldest"` (with a reset event, data `overflow`). Publishing never
 *   waits for a subscriber, and one stuck subscriber costs the others
 *   nothing.
 * - **Shutdown:** `close()` gives every stream a randomized `retry` hint,
 *   so clients reconnect spread out, and ends it.
 *
 * @example A resumable news feed
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHub, parseSSE } from "@ssekit/ssekit";
 *
 * const hub = createHub({ history: { max: 1_000, ttl: 5 * 60_000 } });
 *
 * // A fetch handler, for Deno.serve, Bun.serve, a Worker or serve() of
 * // "@ssekit/ssekit/node".
 * async function feed(request: Request): Promise<Response> {
 *   const url = new URL(request.url);
 *   if (request.method === "POST") {
 *     const id = await hub.publish("news", { event: "news", data: await request.json() });
 *     return Response.json({ id });
 *   }
 *   // EventSource sends Last-Event-ID itself when it reconnects; a page
 *   // that stored an id can pass ?lastEventId= on its first connection.
 *   return hub.response(request, url.searchParams.get("topic") ?? "news");
 * }
 *
 * const post = (data: unknown) =>
 *   feed(new Request("http://localhost/", { method: "POST", body: JSON.stringify(data) }));
 * const { id } = await (await post({ title: "one" })).json();
 * await post({ title: "two" });
 * // A client that saw "one" reconnects, and gets what it missed.
 * const resumed = await feed(new Request(`http://localhost/?lastEventId=${id}`));
 * for await (const message of parseSSE(resumed)) {
 *   assert.deepEqual(JSON.parse(message.data), { title: "two" });
 *   break;
 * }
 * await hub.close();
 * ```
 *
 * @example Subscribing in process
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHub } from "@ssekit/ssekit";
 *
 * const hub = createHub();
 * const first = await hub.publish("chat", { data: "one" });
 * const second = await hub.publish("chat", { data: { text: "two" } });
 * for await (const event of hub.subscribe("chat", { lastEventId: first })) {
 *   assert.deepEqual([event.id, event.data], [second, '{"text":"two"}']);
 *   break;
 * }
 * await hub.close();
 * ```
 *
 * @param options The store or history bounds, queue bound and slow policy,
 * reset event type, serializer and close retry range.
 * @returns The hub.
 * @throws {TypeError} When `store`, `slow`, `resetEvent` or `serialize` is
 * invalid, or both `store` and `history` are given.
 * @throws {RangeError} When `maxQueue`, `closeRetry` or a history bound is
 * out of range.
 */
export function createHub<M extends SSEEventMap>(
  options: HubOptions & { events: SSEEvents<M> },
): TypedHub<M>;
/**
 * Creates an untyped {@linkcode Hub}: see the typed form above.
 *
 * @param options The store or history bounds, queue bound and policies.
 * @returns The hub.
 */
export function createHub(options?: HubOptions): Hub;
export function createHub(options: HubOptions = {}): Hub {
  return new HubCore(options);
}
