/**
 * The hub behind {@linkcode createHub}: it holds the store, the topics and
 * the runs of `relay`, and carries each call of the {@linkcode Hub}
 * interface to the unit that does it.
 *
 * A little over ~150 lines: one thin method per call of the interface.
 *
 * @module
 */

import type { SSEEvent } from "./types.ts";
import type { SSEHooks, SSELogger } from "./hooks.ts";
import type { HubStore } from "./store.ts";
import { Subscription, type SubscriptionHost } from "./_hub_subscription.ts";
import { SharedClock } from "./_shared_clock.ts";
import type { RelayUpstream } from "./relay.ts";
import type {
  HubRelayOptions,
  HubRelayOutcome,
  HubRelayRun,
} from "./hub_relay.ts";
import { HubRelays } from "./_hub_relays.ts";
import type {
  HubOptions,
  HubResponseOptions,
  HubSubscribeOptions,
} from "./_hub_options.ts";
import type { Hub, HubStats } from "./_hub_api.ts";
import { hubSettings } from "./_hub_settings.ts";
import { hubRecord, type RecordOptions } from "./_hub_record.ts";
import { HubTopics, type Topic, type TopicsHost } from "./_hub_topics.ts";
import { hubResponse, type ResponseHost } from "./_hub_response.ts";
import { checkSubscribeOptions, checkTopic, hubClosed } from "./_hub_checks.ts";

/** The hub. */
export class HubCore
  implements Hub, SubscriptionHost, TopicsHost, ResponseHost {
  readonly store: HubStore;
  readonly maxQueue: number;
  readonly dropOldest: boolean;
  readonly resetEvent: string;
  readonly hooks: SSEHooks | undefined;
  readonly logger: SSELogger;
  readonly givenLogger: SSELogger | undefined;
  readonly topics: HubTopics;
  readonly clock: SharedClock = new SharedClock();
  readonly #records: RecordOptions;
  readonly #retry: { readonly min: number; readonly max: number };
  readonly #relays: HubRelays;
  /** What running relays will have settled by. */
  readonly #running = new Set<Promise<HubRelayOutcome>>();
  #closing: Promise<void> | undefined;

  constructor(options: HubOptions) {
    const settings = hubSettings(options);
    const { store, hooks, logger } = settings;
    this.store = store;
    this.maxQueue = settings.maxQueue;
    this.dropOldest = settings.dropOldest;
    this.resetEvent = settings.resetEvent;
    this.hooks = hooks;
    this.givenLogger = logger;
    this.logger = logger ?? console;
    this.#records = settings;
    this.#retry = settings.closeRetry;
    this.topics = new HubTopics(this);
    // A run ends its own topic, also while the hub closes.
    this.#relays = new HubRelays({
      store,
      logger: this.logger,
      publish: (topic, event) => this.publish(topic, event),
      end: (topic, event) => this.#end(topic, event),
    }, settings.maxRelays);
  }

  get closed(): boolean {
    return this.#closing !== undefined;
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

  relaying(topic: string): boolean {
    return this.#relays.has(topic);
  }

  following(following: boolean): void {
    this.#relays.watch(following);
  }

  publish(topic: string, event: SSEEvent | string): Promise<string> {
    try {
      if (this.#closing) throw hubClosed("publish");
      checkTopic(topic);
      // append() runs synchronously within this call, so concurrent
      // publishes get ids in call order.
      return Promise.resolve(
        this.store.append(topic, hubRecord(event, this.#records)),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  end(topic: string, event?: SSEEvent | string): Promise<string> {
    try {
      if (this.#closing) throw hubClosed("end");
      checkTopic(topic);
      return this.#end(topic, event);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #end(topic: string, event: SSEEvent | string | undefined): Promise<string> {
    const record = event === undefined ? {} : hubRecord(event, this.#records);
    return Promise.resolve(this.store.append(topic, { ...record, end: true }));
  }

  subscribe(
    topic: string,
    options: HubSubscribeOptions = {},
  ): AsyncIterableIterator<SSEEvent> {
    if (this.#closing) throw hubClosed("subscribe");
    checkTopic(topic);
    checkSubscribeOptions(options);
    return new Subscription(
      this,
      this.topics.open(topic),
      options.lastEventId || undefined,
      options.signal,
    );
  }

  response(
    request: Request,
    topic: string,
    options: HubResponseOptions = {},
  ): Promise<Response> {
    return hubResponse(this, request, topic, options);
  }

  stats(): HubStats {
    return this.topics.stats();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Runs end their topics (as aborted) before the store closes.
      this.#relays.close();
      await Promise.allSettled(this.#running);
      this.#relays.watch(false);
      this.topics.close(() => this.closeRetry());
      await this.store.close();
    })();
    return this.#closing;
  }

  closeRetry(): number {
    const { min, max } = this.#retry;
    return min + Math.round(Math.random() * (max - min));
  }

  /** Called by a subscription that ended, so its topic can stop tailing. */
  leave(topic: Topic, subscription: Subscription): void {
    this.topics.leave(topic, subscription);
  }
}
