/**
 * The live tail of the Redis store (internal to `ssekit/redis`): one
 * subscriber connection carries the new entries of every tailed topic,
 * however many there are. Each append publishes its entry on its stream's
 * shard channel (`SPUBLISH`, in the append script), so a topic joins the
 * tail with one `SSUBSCRIBE` and leaves it with one `SUNSUBSCRIBE`, without
 * waiting on a blocking read and without a connection of its own.
 *
 * Pub/sub delivers nothing to a connection that is down, so every time the
 * connection comes back each topic catches up from the stream, after the
 * last id it delivered, before the messages that arrived meanwhile: no
 * loss and no duplicate while history covers the break, and a `gap` for
 * the hub to announce when it does not (history trimmed meanwhile, or a
 * Redis restart that lost it).
 *
 * @module
 */

import type { Redis } from "ioredis";
import { compareStreamIds } from "../store.ts";
import type { HubEntry, HubReadResult, HubTailHandler } from "../store.ts";

/** Entries read per page while catching up. */
const PAGE = 1_000;
/** Messages held per topic while it catches up; past it, it reads again. */
const HELD_MAX = 10_000;

interface Tailed {
  readonly key: string;
  readonly handlers: Set<HubTailHandler>;
  /** The id after which entries are new; undefined until first known. */
  cursor: string | undefined;
  /** Messages that came while the topic caught up, or undefined. */
  held: HubEntry[] | undefined;
  /** The catch-up under way, and whether to do it once more after it. */
  syncing: Promise<void> | undefined;
  again: boolean;
}

/** What the tail needs of the rest of the store. */
export interface TailStore {
  /** A new subscriber connection, made like the store's. */
  connect(): Redis;
  /** The store's read of a stream key (see HubStore.read). */
  read(key: string, afterId: string, limit: number): Promise<HubReadResult>;
  /** The position after the last entry of a stream key. */
  last(key: string): Promise<string>;
  /** An entry from a published message. */
  parse(message: string): HubEntry;
}

/** Every tailed topic of one store, on one subscriber connection. */
export class Tail {
  readonly #store: TailStore;
  readonly #topics = new Map<string, Tailed>();
  #subscriber: Redis | undefined;
  #closed = false;

  constructor(store: TailStore) {
    this.#store = store;
  }

  /** Delivers the new entries of the stream `key` until `signal` aborts. */
  async add(
    key: string,
    handler: HubTailHandler,
    signal: AbortSignal,
  ): Promise<void> {
    let topic = this.#topics.get(key);
    if (topic === undefined) {
      topic = {
        key,
        handlers: new Set(),
        cursor: undefined,
        held: undefined,
        syncing: undefined,
        again: false,
      };
      this.#topics.set(key, topic);
    }
    topic.handlers.add(handler);
    const leave = () => this.#leave(key, handler);
    signal.addEventListener("abort", leave, { once: true });
    // A second handler of a topic already live has nothing to wait for.
    if (topic.cursor !== undefined && !topic.syncing) return;
    await this.#sync(topic);
  }

  close(): void {
    this.#closed = true;
    this.#topics.clear();
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  #leave(key: string, handler: HubTailHandler): void {
    const topic = this.#topics.get(key);
    if (!topic?.handlers.delete(handler) || topic.handlers.size > 0) return;
    this.#topics.delete(key);
    this.#subscriber?.sunsubscribe(key).catch(() => {});
  }

  #connection(): Redis {
    if (this.#subscriber) return this.#subscriber;
    const subscriber = this.#subscriber = this.#store.connect();
    subscriber.on("smessage", (key: string, message: string) => {
      const topic = this.#topics.get(key);
      if (topic) this.#receive(topic, this.#store.parse(message));
    });
    // Down: whatever is published now is lost to this connection, so each
    // topic holds what comes after it is back until it has caught up.
    subscriber.on("close", () => {
      for (const topic of this.#topics.values()) topic.held ??= [];
    });
    // Back (not the first connect: add() syncs its own topic then).
    let connected = false;
    subscriber.on("ready", () => {
      if (connected) {
        for (const topic of this.#topics.values()) void this.#sync(topic);
      }
      connected = true;
    });
    // The reconnection policy gave up: every tailed topic has failed.
    subscriber.on("end", () => {
      if (this.#subscriber !== subscriber) return;
      this.#subscriber = undefined;
      const error = new Error(
        "The Redis store's tail lost its connection and could not reconnect",
      );
      this.#fail([...this.#topics.values()], error);
    });
    return subscriber;
  }

  #receive(topic: Tailed, entry: HubEntry): void {
    const held = topic.held;
    if (held !== undefined) {
      // Past the bound, the stream has them: read them again instead.
      if (held.length >= HELD_MAX) {
        held.length = 0;
        topic.again = true;
      }
      held.push(entry);
    } else if (compareStreamIds(entry.id, topic.cursor!) > 0) {
      this.#deliver(topic, entry);
    }
  }

  #deliver(topic: Tailed, entry: HubEntry): void {
    topic.cursor = entry.id;
    for (const handler of topic.handlers) handler.entry(entry);
  }

  // Subscribes `topic` on the current connection, then reads what it
  // missed after its cursor (the stream's end when it joined). Messages
  // held meanwhile follow, newer ones only. A call while one runs makes it
  // run once more; both wait for it.
  #sync(topic: Tailed): Promise<void> {
    if (topic.syncing) {
      topic.again = true;
      return topic.syncing;
    }
    return topic.syncing = this.#run(topic).finally(() => {
      topic.syncing = undefined;
    });
  }

  // Never rejects: a failure is the topic's, told to its handlers.
  async #run(topic: Tailed): Promise<void> {
    const current = () =>
      !this.#closed && this.#topics.get(topic.key) === topic;
    try {
      do {
        topic.again = false;
        topic.held ??= [];
        // The first time, where the stream ends now: asked before anything
        // is awaited, so an append this instance makes after tail() was
        // called comes after it (one connection keeps commands in order).
        const start = topic.cursor === undefined
          ? this.#store.last(topic.key)
          : undefined;
        await this.#connection().ssubscribe(topic.key);
        if (start) topic.cursor = await start;
        if (!current()) return;
        // What was published before the subscription took effect.
        await this.#catchUp(topic, current);
        if (!current()) return;
        const held = topic.held;
        topic.held = undefined;
        for (const entry of held ?? []) this.#receive(topic, entry);
      } while (topic.again && current());
    } catch (error) {
      if (current()) this.#fail([topic], error);
    }
  }

  async #catchUp(topic: Tailed, current: () => boolean): Promise<void> {
    for (;;) {
      const { entries, gap, cursor } = await this.#store.read(
        topic.key,
        topic.cursor!,
        PAGE,
      );
      if (!current()) return;
      if (gap) {
        for (const handler of topic.handlers) handler.gap();
      }
      topic.cursor = cursor;
      for (const entry of entries) this.#deliver(topic, entry);
      if (entries.length < PAGE) return;
    }
  }

  #fail(topics: Tailed[], reason: unknown): void {
    for (const topic of topics) {
      this.#topics.delete(topic.key);
      this.#subscriber?.sunsubscribe(topic.key).catch(() => {});
      for (const handler of topic.handlers) handler.error(reason);
    }
  }
}
