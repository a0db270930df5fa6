/**
 * One subscriber of a hub topic (internal to the hub): the queue between
 * the topic's tail and the consumer, the replay of history after a
 * `Last-Event-ID`, and the policy for a consumer that falls behind. It
 * holds at most `maxQueue` events: past that it reads history at the
 * consumer's pace instead (see `#fallBehind`).
 *
 * Larger than most units (~400 lines) because its state machine is one
 * piece: the replay, the live queue and the end share the queue, the
 * cursor and the consumer's pending read, and splitting them would put
 * those behind accessors on every event.
 *
 * @module
 */

import type { HubEntry, HubStore } from "./store.ts";
import type { SSEEvent } from "./types.ts";
import { type PushReceiver, PushSource } from "./_body_shortcuts.ts";
import {
  callHook,
  type SSEHooks,
  type SSELogger,
  type SSEResumeInfo,
} from "./hooks.ts";

/** What a subscription needs of its hub. */
export interface SubscriptionHost {
  readonly store: HubStore;
  readonly maxQueue: number;
  readonly dropOldest: boolean;
  readonly resetEvent: string;
  /** The hub's hooks, called only on resumes, resets and slow consumers. */
  readonly hooks: SSEHooks | undefined;
  readonly logger: SSELogger;
  /** Called by a subscription that ended, so its topic can stop tailing. */
  leave(topic: SubscribedTopic, subscription: Subscription): void;
}

/** What a subscription needs of its topic. */
export interface SubscribedTopic {
  readonly name: string;
  readonly subscribers: Set<Subscription>;
  /** Settles when the store's tail is established. */
  readonly ready: Promise<void>;
  /** The id of the topic's end, once the hub knows it has ended. */
  end: string | undefined;
}

/**
 * `"replay"`: reading history, live entries wait in `pending`; `"live"`:
 * receiving live entries; `"closing"`: the hub closed, what is queued goes
 * out, then the retry hint; `"ended"`: over, the queue released.
 */
type State = "replay" | "live" | "closing" | "ended";

// What the hooks are told, kept off the subscriptions (thousands sit idle,
// and a field costs each of them): the resumes under way of a hub with
// hooks, and the subscriptions cut off for falling behind.
const resumes = new WeakMap<Subscription, SSEResumeInfo>();
const cutOff = new WeakSet<Subscription>();

const DONE: IteratorResult<SSEEvent> = Object.freeze({
  done: true,
  value: undefined,
});

// The consumer of a pending next(): it takes one event.
class NextWaiter implements PushReceiver {
  resolve: (result: IteratorResult<SSEEvent>) => void;
  reject: (reason: unknown) => void;

  constructor(
    resolve: (result: IteratorResult<SSEEvent>) => void,
    reject: (reason: unknown) => void,
  ) {
    this.resolve = resolve;
    this.reject = reject;
  }

  deliver(value: unknown): boolean {
    this.resolve({ value: value as SSEEvent, done: false });
    return false;
  }

  sourceEnded(failure?: { reason: unknown }): void {
    if (failure) this.reject(failure.reason);
    else this.resolve(DONE);
  }
}

export class Subscription extends PushSource
  implements AsyncIterableIterator<SSEEvent> {
  readonly #hub: SubscriptionHost;
  readonly #topic: SubscribedTopic;
  readonly #signal: AbortSignal | undefined;
  #state: State;
  // Events for the consumer are queue[head…]; a missed-events marker, when
  // set, goes before them.
  #queue: (SSEEvent | undefined)[] = [];
  #head = 0;
  #lost: string | undefined;
  #lostId: string | undefined;
  /** Live entries that arrived during the replay. */
  #pending: HubEntry[] = [];
  /** Pending entries were dropped: the replay must read further. */
  #overflowed = false;
  /** Replaying because it fell behind, not to resume. */
  #behind = false;
  /** The topic has ended: what is queued is the last of it. */
  #finishing = false;
  #reading = false;
  /** The id of the last entry queued; undefined for a live-only start. */
  #cursor: string | undefined;
  /** Live entries are past the cursor from here on: no more comparing. */
  #synced: boolean;
  /**
   * The consumer waiting for events: a stream's body (see pushTo), which
   * stays while it wants more, or a pending next(). There is one only
   * while nothing is queued.
   */
  #waiter: PushReceiver | undefined;
  /** The pending next(), which later calls wait for. */
  #waiting: Promise<IteratorResult<SSEEvent>> | undefined;
  #failure: { reason: unknown } | undefined;
  #retry = 0;

  constructor(
    hub: SubscriptionHost,
    topic: SubscribedTopic,
    lastEventId: string | undefined,
    signal: AbortSignal | undefined,
  ) {
    super();
    this.#hub = hub;
    this.#topic = topic;
    this.#cursor = lastEventId;
    if (lastEventId !== undefined && hub.hooks?.onResume) {
      resumes.set(this, {
        topic: topic.name,
        lastEventId,
        replayed: 0,
        gap: false,
      });
    }
    this.#state = lastEventId === undefined ? "live" : "replay";
    this.#synced = lastEventId === undefined;
    this.#signal = signal;
    topic.subscribers.add(this);
    if (lastEventId === undefined && topic.end !== undefined) {
      this.#finishing = true;
    }
    if (signal?.aborted) {
      // Leaving at once also stops the tail the topic just started.
      this.#release();
      return;
    }
    signal?.addEventListener("abort", this.#onAbort);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<SSEEvent> {
    return this;
  }

  /** Whether it was ended for falling behind: its stream's close reason. */
  get slow(): boolean {
    return cutOff.has(this);
  }

  // Hooks run only on rare paths, never per event, and from methods of
  // their own, so the hot ones (push, #take) stay as small as before.
  #slowConsumer(action: "drop" | "disconnect"): void {
    const { hooks, logger } = this.#hub;
    if (!hooks) return;
    const info = { topic: this.#topic.name, action };
    callHook(hooks, "onSlowConsumer", info, logger);
  }

  #reset(reason: string): void {
    const { hooks, logger } = this.#hub;
    if (!hooks) return;
    const info = {
      topic: this.#topic.name,
      reason: reason as "history" | "overflow",
    };
    callHook(hooks, "onReset", info, logger);
  }

  // Ended for falling behind: told to the hooks, and to the stream.
  #cutOff(): void {
    cutOff.add(this);
    this.#slowConsumer("disconnect");
    this.#end();
  }

  next(): Promise<IteratorResult<SSEEvent>> {
    if (this.#waiting) return this.#waiting.then(() => this.next());
    const value = this.#take();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.#state === "ended") {
      const failure = this.#failure;
      if (failure) {
        this.#failure = undefined;
        return Promise.reject(failure.reason);
      }
      return Promise.resolve(DONE);
    }
    this.#waiting = new Promise((resolve, reject) => {
      this.#waiter = new NextWaiter(resolve, reject);
    });
    if (this.#state === "replay" && !this.#reading) void this.#replay();
    return this.#waiting;
  }

  /**
   * A stream's body takes the events: what is queued at once, then each
   * as it comes, in the call that brings it (a publish), for as long as the
   * body asks for more.
   */
  override pushTo(receiver: PushReceiver): void {
    this.#waiter = receiver;
    this.#wake();
    if (
      this.#waiter !== undefined && this.#state === "replay" && !this.#reading
    ) void this.#replay();
  }

  override return(): Promise<IteratorResult<SSEEvent>> {
    this.#end();
    return Promise.resolve(DONE);
  }

  /** Events held for this subscriber. */
  size(): number {
    return this.#queue.length - this.#head + this.#pending.length;
  }

  /** A live entry from the topic's tail. */
  push(entry: HubEntry): void {
    const state = this.#state;
    if (state === "replay") {
      // The store has these too: dropping them only makes the replay read
      // further, so the queue and this buffer never hold more than maxQueue.
      const maxQueue = this.#hub.maxQueue;
      if (this.size() >= maxQueue) {
        this.#pending = [];
        this.#overflowed = true;
        if (this.#queue.length - this.#head >= maxQueue) return;
      }
      this.#pending.push(entry);
      return;
    }
    if (state !== "live" || !this.#isNew(entry)) return;
    if (this.#queue.length - this.#head >= this.#hub.maxQueue) {
      if (!this.#hub.dropOldest) return this.#fallBehind();
      this.#shift();
      this.#slowConsumer("drop");
      this.#lost = "overflow";
      this.#lostId = undefined;
    }
    this.#cursor = entry.id;
    this.#queue.push(entry);
    if (this.#waiter) this.#wake();
  }

  // More than maxQueue behind: a fast publisher, a burst, or a consumer
  // that reads slowly. The rest comes from history at the consumer's pace
  // (the store has it), so nothing more is held for it; it is cut off only
  // if history no longer reaches back to where it is (see #replay).
  #fallBehind(): void {
    if (this.#cursor === undefined) return this.#cutOff();
    this.#state = "replay";
    this.#behind = true;
    this.#synced = false;
    this.#pending = [];
    this.#overflowed = true;
  }

  // The tail may repeat entries the replay gave; it is in id order, so once
  // one entry is new, all later ones are and comparing can stop.
  #isNew(entry: HubEntry): boolean {
    if (this.#synced) return true;
    if (this.#hub.store.compare(entry.id, this.#cursor!) <= 0) return false;
    this.#synced = true;
    return true;
  }

  /**
   * The store lost entries before its tail delivered them: a live
   * subscriber gets the reset event where they would have been; a replay
   * reads again, and the store's read reports the gap.
   */
  gap(): void {
    const state = this.#state;
    if (state === "replay") {
      this.#pending = [];
      this.#overflowed = true;
      return;
    }
    if (state !== "live") return;
    const reset: SSEEvent = { event: this.#hub.resetEvent, data: "history" };
    this.#reset("history");
    this.#queue.push(reset);
    if (this.#waiter) this.#wake();
  }

  /**
   * The topic ended before this live subscriber could get its end entry
   * (it ended before the tail began): it ends with what is queued.
   */
  topicEnded(): void {
    if (this.#state !== "live") return;
    this.#finishing = true;
    this.#wake();
  }

  /** The hub closed: finish with what is queued and a retry hint. */
  close(retry: number): void {
    if (this.#state === "ended") return;
    this.#state = "closing";
    this.#retry = retry;
    this.#pending = [];
    this.#wake();
  }

  /** The store failed: the consumer's next read rejects with `reason`. */
  fail(reason: unknown): void {
    if (this.#state === "ended") return;
    this.#release();
    this.#failure = { reason };
    this.#wake();
  }

  #onAbort = (): void => this.#end();

  #end(): void {
    if (this.#state === "ended") return;
    this.#release();
    this.#wake();
  }

  #release(): void {
    this.#state = "ended";
    this.#queue = [];
    this.#head = 0;
    this.#pending = [];
    this.#lost = undefined;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#hub.leave(this.#topic, this);
  }

  // Hands the waiting consumer what is ready, while it takes more; then
  // the end, once there is one.
  #wake(): void {
    for (let waiter = this.#waiter; waiter; waiter = this.#waiter) {
      const value = this.#take();
      if (value === undefined && this.#state !== "ended") return;
      this.#waiter = undefined;
      this.#waiting = undefined;
      if (value !== undefined) {
        const more = this.#head < this.#queue.length ||
          this.#lost !== undefined || this.#state === "closing";
        // Stays the waiter if it asks for more and nothing replaced it.
        if (waiter.deliver(value, more)) this.#waiter ??= waiter;
      } else {
        const failure = this.#failure;
        this.#failure = undefined;
        waiter.sourceEnded(failure);
      }
    }
  }

  #shift(): SSEEvent {
    const value = this.#queue[this.#head]!;
    this.#queue[this.#head++] = undefined;
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1_024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return value;
  }

  #take(): SSEEvent | undefined {
    const lost = this.#lost;
    if (lost !== undefined) {
      this.#lost = undefined;
      this.#reset(lost);
      const event: SSEEvent = { event: this.#hub.resetEvent, data: lost };
      if (this.#lostId !== undefined) event.id = this.#lostId;
      return event;
    }
    if (this.#head < this.#queue.length) {
      const value = this.#shift();
      // The topic's end: nothing comes after it.
      if ((value as HubEntry).end) this.#release();
      return value;
    }
    if (this.#state === "closing") {
      this.#release();
      return { retry: this.#retry };
    }
    if (this.#finishing) this.#release();
    return undefined;
  }

  // The resume's replay has caught up: told once.
  #resumed(): void {
    const resume = resumes.get(this);
    if (resume === undefined) return;
    resumes.delete(this);
    callHook(this.#hub.hooks!, "onResume", resume, this.#hub.logger);
  }

  // Reads history one page at a time, and only when the consumer has taken
  // everything queued, so a replay holds at most maxQueue events.
  async #replay(): Promise<void> {
    this.#reading = true;
    const { store, maxQueue } = this.#hub;
    const topic = this.#topic;
    try {
      await topic.ready;
      while (this.#state === "replay") {
        // This read covers whatever the buffer dropped so far.
        if (this.#pending.length >= maxQueue) this.#pending = [];
        this.#overflowed = false;
        const limit = maxQueue - this.#pending.length;
        const { entries, gap, cursor, end } = await store.read(
          topic.name,
          this.#cursor!,
          limit,
        );
        if (this.#state !== "replay") return;
        // Fallen out of history while behind: "disconnect" ends it, and it
        // resumes with a reset when it reconnects.
        if (gap && this.#behind) return this.#cutOff();
        const resume = this.#hub.hooks && resumes.get(this);
        if (resume) {
          resume.replayed += entries.length;
          if (gap) resume.gap = true;
        }
        if (gap) {
          this.#lost = "history";
          // Without entries to follow, the reset itself tells the client
          // where it stands, or it would ask for the same id next time.
          this.#lostId = entries.length === 0 ? cursor : undefined;
        }
        this.#cursor = cursor;
        if (entries.length + this.#pending.length > maxQueue) {
          this.#pending = [];
          this.#overflowed = true;
        }
        for (const entry of entries) this.#queue.push(entry);
        if (entries.length < limit && end !== undefined) {
          // Caught up with a topic that has ended: nothing more comes.
          this.#finishing = true;
          this.#state = "live";
          this.#pending = [];
        } else if (entries.length < limit && !this.#overflowed) {
          // Caught up: everything after this read is in `pending` or will
          // come live; both can repeat what the read returned.
          this.#state = "live";
          this.#behind = false;
          for (const entry of this.#pending) {
            if (this.#isNew(entry)) {
              this.#cursor = entry.id;
              this.#queue.push(entry);
            }
          }
          this.#pending = [];
        }
        if (this.#state !== "replay") this.#resumed();
        if (
          this.#head < this.#queue.length || this.#lost !== undefined ||
          this.#finishing
        ) break;
      }
      this.#wake();
    } catch (error) {
      this.fail(error);
    } finally {
      this.#reading = false;
    }
  }
}
