/**
 * One subscriber of a hub topic (internal to the hub): the queue between
 * the topic's tail and the consumer, handed to it as it asks (a pending
 * `next()`, or a stream's body, straight from the publish), and the policy
 * for a consumer that falls behind. It holds at most `maxQueue` events:
 * past that it reads history at the consumer's pace instead (see
 * `#fallBehind` and `_hub_replay.ts`).
 *
 * Larger than most units (~400 lines): the hand-off to the consumer, the
 * live intake, the slow policy and the end share the queue, the cursor and
 * the consumer's pending read, and splitting them would put those behind
 * accessors on every event.
 *
 * @module
 */

import type { HubEntry } from "./store.ts";
import type { SSEEvent } from "./types.ts";
import { type PushReceiver, PushSource } from "./_body_shortcuts.ts";
import {
  type HookHost,
  markCutOff,
  reset,
  resumed,
  resuming,
  slowConsumer,
  wasCutOff,
} from "./_hub_subscription_hooks.ts";
import { Queue } from "./_queue.ts";
import type { SharedClock } from "./_shared_clock.ts";
import { DONE, NextWaiter } from "./_hub_next_waiter.ts";
import { Replay, type ReplayHost, type ReplayTarget } from "./_hub_replay.ts";

/** What a subscription needs of its hub. */
export interface SubscriptionHost extends ReplayHost, HookHost {
  readonly dropOldest: boolean;
  readonly resetEvent: string;
  /** The clock shared by the watchdogs of the hub's streams. */
  readonly clock: SharedClock;
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
 * `"replay"`: reading history, live entries wait in the replay; `"live"`:
 * receiving live entries; `"closing"`: the hub closed, what is queued goes
 * out, then the retry hint; `"ended"`: over, the queue released.
 */
type State = "replay" | "live" | "closing" | "ended";

/** One subscriber of a topic: what `hub.subscribe` returns. */
export class Subscription extends PushSource
  implements AsyncIterableIterator<SSEEvent>, ReplayTarget {
  readonly #hub: SubscriptionHost;
  readonly #topic: SubscribedTopic;
  readonly #signal: AbortSignal | undefined;
  #state: State;
  // Events for the consumer; a missed-events marker, when set, goes before
  // them.
  readonly #queue = new Queue<SSEEvent>();
  #lost: "history" | "overflow" | undefined;
  #lostId: string | undefined;
  /** The replay under way, in state "replay" only. */
  #replay: Replay | undefined;
  /** The topic has ended: what is queued is the last of it. */
  #finishing = false;
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
    if (lastEventId === undefined) {
      this.#state = "live";
      this.#synced = true;
    } else {
      resuming(this, hub, topic.name, lastEventId);
      this.#state = "replay";
      this.#synced = false;
      this.#replay = new Replay(hub, topic, this, false);
    }
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

  /** The hub's: its streams share one timer. */
  override get clock(): SharedClock {
    return this.#hub.clock;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<SSEEvent> {
    return this;
  }

  /** Whether it was ended for falling behind: its stream's close reason. */
  get slow(): boolean {
    return wasCutOff(this);
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
    this.#read();
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
    if (this.#waiter !== undefined) this.#read();
  }

  // A consumer waits: a replay reads its next page, unless it is reading.
  #read(): void {
    const replay = this.#replay;
    if (replay !== undefined && !replay.reading) void replay.run();
  }

  override return(): Promise<IteratorResult<SSEEvent>> {
    this.#end();
    return Promise.resolve(DONE);
  }

  /** Events held for this subscriber. */
  size(): number {
    return this.#queue.length + (this.#replay?.size ?? 0);
  }

  /** A live entry from the topic's tail. */
  push(entry: HubEntry): void {
    const state = this.#state;
    if (state === "replay") {
      return this.#replay!.buffer(entry, this.#queue.length);
    }
    if (state !== "live" || !this.#isNew(entry)) return;
    if (this.#queue.length >= this.#hub.maxQueue) {
      if (!this.#hub.dropOldest) return this.#fallBehind();
      this.#queue.shift();
      slowConsumer(this.#hub, this.#topic.name, "drop");
      this.#lost = "overflow";
      this.#lostId = undefined;
    }
    this.#cursor = entry.id;
    const waiter = this.#waiter;
    if (
      waiter !== undefined && this.#queue.length === 0 && this.#plain(entry)
    ) {
      // A consumer that keeps up takes it at once, with no queue on the
      // way: 2–4% less server CPU per delivery (bench/fanout.ts, Deno).
      return this.#handOver(waiter, entry, false);
    }
    this.#queue.push(entry);
    if (waiter) this.#wake();
  }

  // Whether `entry` is just the next event: no marker goes before it, and
  // it does not end the subscription.
  #plain(entry: HubEntry): boolean {
    return this.#lost === undefined && !this.#finishing && !entry.end;
  }

  // More than maxQueue behind: a fast publisher, a burst, or a consumer
  // that reads slowly. The rest comes from history at the consumer's pace
  // (the store has it), so nothing more is held for it; it is cut off only
  // if history no longer reaches back to where it is (see Replay).
  #fallBehind(): void {
    if (this.#cursor === undefined) return this.cutOff();
    this.#state = "replay";
    this.#synced = false;
    this.#replay = new Replay(this.#hub, this.#topic, this, true);
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
    if (state === "replay") return this.#replay!.drop();
    if (state !== "live") return;
    const event: SSEEvent = { event: this.#hub.resetEvent, data: "history" };
    reset(this.#hub, this.#topic.name, "history");
    this.#queue.push(event);
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
    this.#replay = undefined;
    this.#wake();
  }

  /** The store failed: the consumer's next read rejects with `reason`. */
  fail(reason: unknown): void {
    if (this.#state === "ended") return;
    this.#release();
    this.#failure = { reason };
    this.#wake();
  }

  /** Ended for falling behind: told to the hooks, and to the stream. */
  cutOff(): void {
    markCutOff(this);
    slowConsumer(this.#hub, this.#topic.name, "disconnect");
    this.#end();
  }

  #onAbort = (): void => this.#end();

  #end(): void {
    if (this.#state === "ended") return;
    this.#release();
    this.#wake();
  }

  #release(): void {
    this.#state = "ended";
    this.#queue.clear();
    this.#replay = undefined;
    this.#lost = undefined;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#hub.leave(this.#topic, this);
  }

  /** Hands the waiting consumer what is ready, while it takes more. */
  wake(): void {
    this.#wake();
  }

  // Hands the waiting consumer what is ready, while it takes more; then
  // the end, once there is one.
  #wake(): void {
    for (let waiter = this.#waiter; waiter; waiter = this.#waiter) {
      const value = this.#take();
      if (value !== undefined) {
        const more = this.#queue.length > 0 ||
          this.#lost !== undefined || this.#state === "closing";
        this.#handOver(waiter, value, more);
      } else if (this.#state === "ended") {
        this.#waiter = undefined;
        this.#waiting = undefined;
        const failure = this.#failure;
        this.#failure = undefined;
        waiter.sourceEnded(failure);
      } else return;
    }
  }

  #handOver(waiter: PushReceiver, value: SSEEvent, more: boolean): void {
    this.#waiter = undefined;
    this.#waiting = undefined;
    // Stays the waiter if it asks for more and nothing replaced it.
    if (waiter.deliver(value, more)) this.#waiter ??= waiter;
  }

  #take(): SSEEvent | undefined {
    const lost = this.#lost;
    if (lost !== undefined) {
      this.#lost = undefined;
      reset(this.#hub, this.#topic.name, lost);
      const event: SSEEvent = { event: this.#hub.resetEvent, data: lost };
      if (this.#lostId !== undefined) event.id = this.#lostId;
      return event;
    }
    if (this.#queue.length > 0) {
      const value = this.#queue.shift()!;
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

  // What the replay calls (ReplayTarget).

  replaying(replay: Replay): boolean {
    return this.#replay === replay;
  }

  get cursor(): string {
    return this.#cursor!;
  }

  get ready(): boolean {
    return this.#queue.length > 0 || this.#lost !== undefined ||
      this.#finishing;
  }

  queuePage(entries: readonly HubEntry[], cursor: string, gap: boolean): void {
    if (gap) {
      this.#lost = "history";
      // Without entries to follow, the reset itself tells the client
      // where it stands, or it would ask for the same id next time.
      this.#lostId = entries.length === 0 ? cursor : undefined;
    }
    this.#cursor = cursor;
    for (const entry of entries) this.#queue.push(entry);
  }

  finish(): void {
    this.#finishing = true;
    this.#state = "live";
    this.#replay = undefined;
    resumed(this, this.#hub);
  }

  goLive(pending: readonly HubEntry[]): void {
    this.#state = "live";
    this.#replay = undefined;
    for (const entry of pending) {
      if (this.#isNew(entry)) {
        this.#cursor = entry.id;
        this.#queue.push(entry);
      }
    }
    resumed(this, this.#hub);
  }
}
