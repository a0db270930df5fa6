/**
 * The floors forgotten topics leave in the memory store (see
 * `memory_store.ts`, "Forgetting topics"): each forgotten topic's last
 * sequence number is kept in one of 2^10 buckets chosen by a hash of its
 * name, and a bucket keeps the highest. Every id a forgotten topic handed
 * out is at most its bucket's floor, and the store keeps nothing per
 * topic once it is gone.
 *
 * @module
 */

// 8 KiB, made when the first topic is forgotten: a topic's old last id
// then stays a position unless a later topic of the same bucket was
// forgotten too.
const BUCKET_BITS = 10;

// FNV-1a over UTF-16 code units, then MurmurHash3's finaliser: names that
// differ in their last character ("room 1", "room 2") would otherwise
// crowd into a few buckets.
function bucketOf(topic: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < topic.length; i++) {
    hash = Math.imul(hash ^ topic.charCodeAt(i), 0x01000193);
  }
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> (32 - BUCKET_BITS);
}

/** One store's floors, by bucket. */
export class Floors {
  // A plain array, not a Float64Array: V8 would box the doubles read from
  // one in every new record's `low` (16 B a topic).
  #floors: number[] | undefined;

  /** The floor of `topic`'s bucket: 0 until a topic of it is forgotten. */
  of(topic: string): number {
    return this.#floors ? this.#floors[bucketOf(topic)] : 0;
  }

  /** Leaves the floor `low` of a forgotten `topic` in its bucket. */
  leave(topic: string, low: number): void {
    // A topic that never had an entry: its floor came from its bucket.
    if (low === 0) return;
    this.#floors ??= new Array<number>(1 << BUCKET_BITS).fill(0);
    const bucket = bucketOf(topic);
    if (low > this.#floors[bucket]) this.#floors[bucket] = low;
  }

  /** Drops every floor. */
  clear(): void {
    this.#floors = undefined;
  }
}
