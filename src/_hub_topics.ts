/**
 * The topics a hub tails: one store tail per topic with subscribers here,
 * started by its first subscriber and stopped when its last one leaves.
 *
 * @module
 */

import { callHook, type SSEHooks, type SSELogger } from "./hooks.ts";
import type { HubStore, HubTailHandler } from "./store.ts";
import type { SubscribedTopic, Subscription } from "./_hub_subscription.ts";
import type { HubStats } from "./_hub_api.ts";
import { fanOut } from "./_hub_fan_out.ts";

/** A topic this instance tails. */
export interface Topic extends SubscribedTopic {
  readonly aborter: AbortController;
  /** The tail is established and has been checked for an end. */
  live: boolean;
}

/** What the topics need of their hub. */
export interface TopicsHost {
  readonly store: HubStore;
  /** Told of a failed tail (`onError`). */
  readonly hooks: SSEHooks | undefined;
  readonly logger: SSELogger;
  /** Whether any topic is tailed: followers need dead runs reaped. */
  following(following: boolean): void;
}

/** The topics of one hub, by name. */
export class HubTopics {
  readonly #host: TopicsHost;
  readonly #topics = new Map<string, Topic>();

  constructor(host: TopicsHost) {
    this.#host = host;
  }

  /** The topic, if it is tailed. */
  get(name: string): Topic | undefined {
    return this.#topics.get(name);
  }

  /** The topic, tailed from now on if it was not. */
  open(name: string): Topic {
    const existing = this.#topics.get(name);
    if (existing) return existing;
    const host = this.#host;
    const { store } = host;
    const subscribers = new Set<Subscription>();
    const aborter = new AbortController();
    const deliver = fanOut(subscribers, (id) => topic.end = id);
    const handler: HubTailHandler = {
      entry: deliver,
      gap: () => deliver(undefined),
      error: (reason) => {
        if (host.hooks) {
          callHook(
            host.hooks,
            "onError",
            { where: "store", error: reason },
            host.logger,
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
      ready = Promise.resolve(store.tail(name, handler, aborter.signal));
    } catch (error) {
      ready = Promise.reject(error);
    }
    // Live-only subscribers never await `ready`; they learn of a failed
    // tail through the handler, and of an end from before the tail began
    // through one read once it has.
    ready.then(() => store.read(name, "", 1)).then(({ end }) => {
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
    host.following(true);
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
      this.#host.following(this.#topics.size > 0);
    }
  }

  /** Counts subscribers and queued events. */
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

  /**
   * Stops every tail; each subscription finishes with what is queued and a
   * retry hint of its own.
   */
  close(retry: () => number): void {
    const topics = [...this.#topics.values()];
    this.#topics.clear();
    for (const topic of topics) {
      topic.aborter.abort();
      for (const subscription of topic.subscribers) {
        subscription.close(retry());
      }
      topic.subscribers.clear();
    }
  }
}
