/**
 * The hub behind {@linkcode createHub}: its options, topics, publishing,
 * subscriptions, responses, relays and shutdown.
 *
 * @module
 */

import { formatEvent } from "./encode.ts";
import { createSSEStream, type SSEStreamOptions } from "./stream.ts";
import type { SSEEvent } from "./types.ts";
import { getLastEventId } from "./last_event_id.ts";
import { checkCallback, checkOption, describe, isCount } from "./_checks.ts";
import {
  callHook,
  checkHookOptions,
  type SSEHooks,
  type SSELogger,
} from "./hooks.ts";
import type { HubEntry, HubRecord, HubStore, HubTailHandler } from "./store.ts";
import { historyBounds } from "./store.ts";
import { memoryStore } from "./memory_store.ts";
import { checkEvents, jsonEvent } from "./events.ts";
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
import type {
  HubOptions,
  HubResponseOptions,
  HubSubscribeOptions,
} from "./_hub_options.ts";
import type { Hub, HubStats } from "./_hub_api.ts";
import {
  checkTopic,
  DEFAULT_CLOSE_RETRY,
  DEFAULT_MAX_QUEUE,
  hubClosed,
  OWNER,
} from "./_hub_checks.ts";
import { streamHooks } from "./_hub_response.ts";

interface Topic extends SubscribedTopic {
  readonly aborter: AbortController;
  /** The tail is established and has been checked for an end. */
  live: boolean;
}

/** The hub. */
export class HubCore implements Hub, SubscriptionHost {
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
