/**
 * How the Durable Object store (internal to `ssekit/durable-object`) lays
 * its topics out in storage and lets their events go:
 *
 * - `<prefix>state`: the store's {@linkcode State};
 * - `<prefix>t:<length>:<topic>`: a topic's {@linkcode Meta};
 * - `<prefix>e:<length>:<topic>:<sequence>`: its entries, the sequence
 *   zero-padded so that keys sort as numbers do.
 *
 * The name's length comes first, so that no topic's keys are a prefix of
 * another's. Expiry runs on appends, reads and tails' leaving, no alarms;
 * a topic with no entries and no tail is forgotten, leaving its floor.
 * (Over ~150 lines by a little: the records' types, then one class over
 * one layout.)
 *
 * @module
 */

import type { HubRecord } from "../store.ts";
import type { DurableObjectStorageLike } from "../durable_object.ts";

/**
 * The store's own record: its id epoch, the highest sequence handed out,
 * and the highest floor a forgotten topic left.
 */
export interface State {
  epoch: string;
  issued: number;
  floor: number;
}

/** A topic's record: its entries are the sequence numbers first…seq. */
export interface Meta {
  topic: string;
  seq: number;
  first: number;
  /** Positions start here: the last trimmed entry, else the floor at birth. */
  low: number;
  end?: string;
}

/** An entry as stored: its append time and its record. */
export type Stored = [time: number, record: HubRecord];

/** Digits of a sequence number in an entry's key. */
export const WIDTH = 16;
// The most keys one delete() takes.
const BATCH = 128;

/** How many entries a topic keeps. */
export function count(meta: Meta): number {
  return meta.seq - meta.first + 1;
}

/** A store's topics in storage: their keys, expiry and forgetting. */
export class Records {
  readonly #storage: DurableObjectStorageLike;
  readonly #prefix: string;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #tailed: (topic: string) => boolean;
  /** The state's key. */
  readonly stateKey: string;
  readonly #metaPrefix: string;
  // Where the round-robin sweep goes on from.
  #sweepAfter: string | undefined;

  /**
   * @param tailed Whether a topic has a tail here: one that has is never
   * forgotten.
   */
  constructor(
    storage: DurableObjectStorageLike,
    prefix: string,
    ttl: number,
    now: () => number,
    tailed: (topic: string) => boolean,
  ) {
    this.#storage = storage;
    this.#prefix = prefix;
    this.#ttl = ttl;
    this.#now = now;
    this.#tailed = tailed;
    this.stateKey = `${prefix}state`;
    this.#metaPrefix = `${prefix}t:`;
  }

  /** The key of `topic`'s record. */
  metaKey(topic: string): string {
    return `${this.#metaPrefix}${topic.length}:${topic}`;
  }

  /** The prefix of `topic`'s entries' keys. */
  entryPrefix(topic: string): string {
    return `${this.#prefix}e:${topic.length}:${topic}:`;
  }

  /** The key of `topic`'s entry `seq`. */
  entryKey(topic: string, seq: number): string {
    return this.entryPrefix(topic) + String(seq).padStart(WIDTH, "0");
  }

  /** Deletes `keys`, as many batches as it takes. */
  async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += BATCH) {
      await this.#storage.delete(keys.slice(i, i + BATCH));
    }
  }

  /** Drops the entries older than `ttl`, oldest first; true if any went. */
  async expire(meta: Meta): Promise<boolean> {
    if (this.#ttl === Infinity) return false;
    const cutoff = this.#now() - this.#ttl;
    let dropped = false;
    while (count(meta) > 0) {
      const batch = await this.#storage.list({
        prefix: this.entryPrefix(meta.topic),
        start: this.entryKey(meta.topic, meta.first),
        limit: BATCH,
      });
      const stale: string[] = [];
      for (const [key, [time]] of batch as Map<string, Stored>) {
        if (time >= cutoff) break;
        stale.push(key);
      }
      if (stale.length === 0) break;
      await this.deleteKeys(stale);
      meta.first += stale.length;
      meta.low = meta.first - 1;
      dropped = true;
      if (stale.length < batch.size) break;
    }
    return dropped;
  }

  /**
   * Writes a topic's record back, or forgets the topic when it has no
   * entries and no tail, leaving its floor in `state` for the ids it
   * handed out.
   */
  async settle(meta: Meta, state: State): Promise<void> {
    if (count(meta) > 0 || this.#tailed(meta.topic)) {
      return this.#storage.put({ [this.metaKey(meta.topic)]: meta });
    }
    state.floor = Math.max(state.floor, meta.low);
    await Promise.all([
      this.#storage.delete([this.metaKey(meta.topic)]),
      this.#storage.put({ [this.stateKey]: state }),
    ]);
  }

  /**
   * Expires a couple of other topics, round-robin, so that idle topics let
   * go of their events too.
   */
  async sweep(state: State): Promise<void> {
    const next = await this.#storage.list({
      prefix: this.#metaPrefix,
      ...this.#sweepAfter === undefined ? {} : { startAfter: this.#sweepAfter },
      limit: 2,
    });
    this.#sweepAfter = next.size < 2 ? undefined : [...next.keys()].at(-1);
    for (const meta of next.values() as Iterable<Meta>) {
      if (await this.expire(meta) || count(meta) === 0) {
        await this.settle(meta, state);
      }
    }
  }
}
