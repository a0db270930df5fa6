/**
 * The live tail of the Redis store (internal to `ssekit/redis`): one
 * subscriber connection per shard (the single Redis, or each cluster master
 * that serves a tailed topic) carries the new entries of every tailed topic
 * on it, however many there are. Each append publishes its entry on its
 * stream's shard channel (`SPUBLISH`, in the append script), so a topic
 * joins the tail with one `SSUBSCRIBE` and leaves it with one
 * `SUNSUBSCRIBE`, without waiting on a blocking read and without a
 * connection of its own.
 *
 * Pub/sub delivers nothing to a connection that is down, nor after its node
 * stopped serving the channel's slot (a failover, a resharding: the node
 * then unsubscribes it), so every time a topic's subscription is back, on
 * the same node or on the one that serves its slot now, the topic catches
 * up from the stream, after the last id it delivered, before the messages
 * that arrived meanwhile: no loss and no duplicate while history covers the
 * break, and a `gap` for the hub to announce when it does not (history
 * trimmed meanwhile, or a Redis restart that lost it).
 *
 * (Over ~150 lines: {@linkcode Tail} is one class because its shards and
 * topics point at each other: a topic moves between shards, and a shard's
 * connection events resync its topics; split, each half would reach into
 * the other's state. Where connections go and how they reconnect is in
 * `_subscribers.ts`.)
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
/** Subscribe attempts per catch-up that a MOVED answer may cost. */
const MOVES = 5;
/**
 * Topology reads, this many ms apart, while a node that dropped
 * subscriptions still looks like the master of all of them.
 */
const STALE_TRIES = 10;
const STALE_DELAY = 100;

/** One subscriber connection and the topics subscribed on it. */
interface Shard {
  /** The node it connects to, as {@linkcode TailStore.route} names it. */
  readonly node: string;
  readonly connection: Redis;
  readonly topics: Set<Tailed>;
  /** Its topics are moving: the node dropped their subscriptions. */
  moving: boolean;
}

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
  /** The shard whose connection it is subscribed on, once it is. */
  shard: Shard | undefined;
}

/**
 * The hash slot of a key (CRC16 of its hash tag, modulo 16384), as Redis
 * Cluster computes it, so the tail knows which master serves a topic's channel.
 */
export function keySlot(key: string): number {
  const open = key.indexOf("{");
  const close = open < 0 ? -1 : key.indexOf("}", open + 1);
  const tag = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of new TextEncoder().encode(tag)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    crc &= 0xffff;
  }
  return crc & 16383;
}

/** What the tail needs of the rest of the store. */
export interface TailStore {
  /**
   * The node whose connection carries `key`'s channel: `""` on a single
   * Redis, the master that serves its slot (`host:port`) on a cluster, or
   * undefined while that is not known.
   */
  route(key: string): string | undefined;
  /** A new subscriber connection to `node`, made like the store's. */
  connect(node: string): Redis;
  /**
   * Learns which node serves which slot again (a cluster's topology); never
   * rejects, and does nothing on a single Redis.
   */
  refresh(): Promise<void>;
  /** The store's read of a stream key (see HubStore.read). */
  read(key: string, afterId: string, limit: number): Promise<HubReadResult>;
  /** The position after the last entry of a stream key. */
  last(key: string): Promise<string>;
  /** An entry from a published message. */
  parse(message: string): HubEntry;
  /** Told of each entry delivered live, when lag is measured. */
  lag?: ((key: string, id: string) => void) | undefined;
}

/** Every tailed topic of one store, on one subscriber connection per shard. */
export class Tail {
  readonly #store: TailStore;
  readonly #topics = new Map<string, Tailed>();
  readonly #shards = new Map<string, Shard>();
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
        shard: undefined,
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
    for (const shard of this.#shards.values()) shard.connection.disconnect();
    this.#shards.clear();
  }

  #leave(key: string, handler: HubTailHandler): void {
    const topic = this.#topics.get(key);
    if (!topic?.handlers.delete(handler) || topic.handlers.size > 0) return;
    this.#topics.delete(key);
    this.#unsubscribe(topic);
  }

  // The shard's connection stays, ready for the next topic on that node.
  #unsubscribe(topic: Tailed): void {
    const shard = topic.shard;
    topic.shard = undefined;
    if (!shard?.topics.delete(topic)) return;
    shard.connection.sunsubscribe(topic.key).catch(() => {});
  }

  #shard(node: string): Shard {
    const existing = this.#shards.get(node);
    if (existing) return existing;
    const connection = this.#store.connect(node);
    const shard: Shard = {
      node,
      connection,
      topics: new Set(),
      moving: false,
    };
    this.#shards.set(node, shard);
    const current = () => this.#shards.get(node) === shard;
    connection.on("smessage", (key: string, message: string) => {
      const topic = this.#topics.get(key);
      // Only on the connection it is subscribed on: one it moved off may
      // still deliver what it missed on the new one.
      if (topic?.shard === shard) {
        this.#receive(topic, this.#store.parse(message));
      }
    });
    // Down: whatever is published now is lost to this connection, so each
    // topic holds what comes after it is back until it has caught up. The
    // node may be down for good (a failed master): the topics whose slot
    // another node serves now move there.
    connection.on("close", () => {
      if (!current()) return;
      for (const topic of shard.topics) topic.held ??= [];
      void this.#reroute(shard);
    });
    // Back (not the first connect: the topic that made it syncs then).
    let connected = false;
    connection.on("ready", () => {
      if (connected && current()) {
        for (const topic of shard.topics) void this.#sync(topic);
      }
      connected = true;
    });
    // The node unsubscribed channels itself (the slots moved: a failover, a
    // resharding) or refused a subscription for a slot it does not serve.
    connection.on("moved", () => {
      if (!current() || shard.moving) return;
      for (const topic of shard.topics) topic.held ??= [];
      void this.#moved(shard);
    });
    // The reconnection policy gave up: every topic on it has failed.
    connection.on("end", () => {
      if (!current()) return;
      this.#shards.delete(node);
      const error = new Error(
        "The Redis store's tail lost its connection and could not reconnect",
      );
      this.#fail([...shard.topics], error);
    });
    return shard;
  }

  // Learns the topology again, then syncs the shard's topics that another
  // node serves now.
  async #reroute(shard: Shard): Promise<void> {
    await this.#store.refresh();
    if (this.#shards.get(shard.node) !== shard) return;
    for (const topic of shard.topics) {
      if (this.#store.route(topic.key) !== shard.node) void this.#sync(topic);
    }
  }

  // The node does not say which subscriptions it dropped: every topic on it
  // subscribes again where its slot is served now, and catches up. It may
  // have heard of the move before the node the topology comes from: while
  // that still shows it serving them all, the topology is read again.
  async #moved(shard: Shard): Promise<void> {
    if (shard.topics.size === 0) return;
    shard.moving = true;
    try {
      for (let tries = 1;; tries++) {
        await this.#store.refresh();
        if (this.#shards.get(shard.node) !== shard) return;
        const stale = [...shard.topics].every((topic) =>
          this.#store.route(topic.key) === shard.node
        );
        if (!stale || tries === STALE_TRIES) break;
        await new Promise((resolve) => setTimeout(resolve, STALE_DELAY));
      }
    } finally {
      shard.moving = false;
    }
    for (const topic of shard.topics) void this.#sync(topic);
  }

  // Subscribes `topic` on the connection of the node that serves it,
  // moving it off the one it was on (closed when no topic is left on it:
  // its node no longer serves them). A MOVED answer means the slot moved
  // meanwhile: learn the topology, try again.
  async #subscribe(topic: Tailed, current: () => boolean): Promise<void> {
    for (let tries = 1;; tries++) {
      let node = this.#store.route(topic.key);
      if (node === undefined) {
        await this.#store.refresh();
        node = this.#store.route(topic.key);
      }
      if (!current()) return;
      if (node === undefined) {
        throw new Error(`No Redis node is known to serve ${topic.key}`);
      }
      const shard = this.#shard(node);
      const from = topic.shard;
      if (from !== shard) {
        this.#unsubscribe(topic);
        topic.shard = shard;
        shard.topics.add(topic);
        if (from && from.topics.size === 0) this.#drop(from);
      }
      try {
        await shard.connection.ssubscribe(topic.key);
        return;
      } catch (error) {
        if (tries >= MOVES || !String(error).includes("MOVED ")) throw error;
        await this.#store.refresh();
      }
    }
  }

  #drop(shard: Shard): void {
    if (this.#shards.get(shard.node) !== shard) return;
    this.#shards.delete(shard.node);
    shard.connection.disconnect();
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
    this.#store.lag?.(topic.key, entry.id);
    for (const handler of topic.handlers) handler.entry(entry);
  }

  // Subscribes `topic` where its slot is served, then reads what it
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
        // Once it is answered, a cluster client knows where slots are.
        if (topic.cursor === undefined) {
          topic.cursor = await this.#store.last(topic.key);
        }
        await this.#subscribe(topic, current);
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
    let after = topic.cursor!;
    for (;;) {
      const { entries, gap, cursor } = await this.#store.read(
        topic.key,
        after,
        PAGE,
      );
      if (!current()) return;
      if (gap) {
        for (const handler of topic.handlers) handler.gap();
      }
      // After a gap, history may hold entries already delivered (a failover
      // lost writes its old master had published): they are passed over,
      // and the cursor never goes back.
      for (const entry of entries) {
        if (compareStreamIds(entry.id, topic.cursor!) > 0) {
          this.#deliver(topic, entry);
        }
      }
      if (compareStreamIds(cursor, topic.cursor!) > 0) topic.cursor = cursor;
      if (entries.length < PAGE) return;
      after = cursor;
    }
  }

  #fail(topics: Tailed[], reason: unknown): void {
    for (const topic of topics) {
      this.#topics.delete(topic.key);
      this.#unsubscribe(topic);
      for (const handler of topic.handlers) handler.error(reason);
    }
  }
}
