/**
 * The replay of a subscription: history after its `Last-Event-ID` (a
 * resume), or after the last event it was given (one that fell behind),
 * read one page at a time at the consumer's pace, while live entries wait
 * in a bounded buffer; then the switch to live entries, each exactly once.
 *
 * @module
 */

import type { HubEntry, HubStore } from "./store.ts";
import type { SubscribedTopic } from "./_hub_subscription.ts";
import { replayed } from "./_hub_subscription_hooks.ts";

/** What a replay needs of its subscription. */
export interface ReplayTarget {
  /** Whether `replay` is still the subscription's replay. */
  replaying(replay: Replay): boolean;
  /** The id of the last entry queued. */
  readonly cursor: string;
  /** Whether the consumer has something to take: reading waits for it. */
  readonly ready: boolean;
  /**
   * Queues a page of history read after the cursor, which moves to
   * `cursor`; `gap`: entries before them are gone.
   */
  queuePage(entries: readonly HubEntry[], cursor: string, gap: boolean): void;
  /** Caught up with a topic that has ended: what is queued is the last. */
  finish(): void;
  /** Caught up: `pending` came live meanwhile, and may repeat the replay. */
  goLive(pending: readonly HubEntry[]): void;
  /** Ends it for falling out of history while behind. */
  cutOff(): void;
  /** Hands the consumer what is ready. */
  wake(): void;
  /** Ends it with the store's error. */
  fail(reason: unknown): void;
}

/** What a replay needs of its hub. */
export interface ReplayHost {
  readonly store: HubStore;
  readonly maxQueue: number;
}

/**
 * One replay. The queue and this buffer never hold more than `maxQueue`
 * entries together: the store has whatever the buffer drops, so dropping
 * only makes the replay read further.
 */
export class Replay {
  readonly #host: ReplayHost;
  readonly #topic: SubscribedTopic;
  readonly #target: ReplayTarget;
  /** Replaying because it fell behind, not to resume. */
  readonly #behind: boolean;
  /** Live entries that arrived during the replay. */
  #pending: HubEntry[] = [];
  /** Pending entries were dropped: the replay must read further. */
  #overflowed: boolean;
  /** A read is under way. */
  reading = false;

  constructor(
    host: ReplayHost,
    topic: SubscribedTopic,
    target: ReplayTarget,
    behind: boolean,
  ) {
    this.#host = host;
    this.#topic = topic;
    this.#target = target;
    this.#behind = behind;
    // Fallen behind: what came live is not held, the read covers it.
    this.#overflowed = behind;
  }

  /** Entries held for the consumer besides its queue. */
  get size(): number {
    return this.#pending.length;
  }

  /** A live entry, while `queued` events wait in the subscription. */
  buffer(entry: HubEntry, queued: number): void {
    const { maxQueue } = this.#host;
    if (queued + this.#pending.length >= maxQueue) {
      this.drop();
      if (queued >= maxQueue) return;
    }
    this.#pending.push(entry);
  }

  /** The live entries held are dropped (or lost): the read goes further. */
  drop(): void {
    this.#pending = [];
    this.#overflowed = true;
  }

  // Reads history one page at a time, and only when the consumer has taken
  // everything queued, so a replay holds at most maxQueue events.
  async run(): Promise<void> {
    this.reading = true;
    const { store, maxQueue } = this.#host;
    const topic = this.#topic;
    const target = this.#target;
    try {
      await topic.ready;
      while (target.replaying(this)) {
        // This read covers whatever the buffer dropped so far.
        if (this.#pending.length >= maxQueue) this.#pending = [];
        this.#overflowed = false;
        const limit = maxQueue - this.#pending.length;
        const { entries, gap, cursor, end } = await store.read(
          topic.name,
          target.cursor,
          limit,
        );
        if (!target.replaying(this)) return;
        // Fallen out of history while behind: "disconnect" ends it, and it
        // resumes with a reset when it reconnects.
        if (gap && this.#behind) return target.cutOff();
        replayed(target, entries.length, gap);
        if (entries.length + this.#pending.length > maxQueue) this.drop();
        target.queuePage(entries, cursor, gap);
        if (entries.length < limit && end !== undefined) {
          // Caught up with a topic that has ended: nothing more comes.
          target.finish();
        } else if (entries.length < limit && !this.#overflowed) {
          // Caught up: everything after this read is in `pending` or will
          // come live; both can repeat what the read returned.
          target.goLive(this.#pending);
        }
        if (target.ready) break;
      }
      target.wake();
    } catch (error) {
      target.fail(error);
    } finally {
      this.reading = false;
    }
  }
}
