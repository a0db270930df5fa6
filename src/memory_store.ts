/**
 * {@linkcode memoryStore}: the in-process {@linkcode HubStore}, the default
 * store of a hub.
 *
 * **Forgetting topics.** A topic whose events have all expired (or that
 * `max: 0` keeps none of) and that nothing tails is forgotten: the sweep
 * that expires idle topics deletes its record, so a million short-lived
 * topics cost nothing once they are gone. When the topic is used again it
 * starts a new incarnation, and ids must still never mislead a client:
 *
 * - `issued` is the highest sequence number any topic of the store has
 *   handed out. A new incarnation starts its sequence right after it, so
 *   its ids are greater than every id an earlier incarnation (of any topic)
 *   had, and each incarnation's sequence stays contiguous.
 * - A forgotten topic leaves its floor (its last sequence number) in one of
 *   1,024 buckets chosen by a hash of its name; a bucket keeps the highest
 *   floor left in it. Every id a forgotten topic handed out is at most its
 *   bucket's floor.
 * - **Positions.** An id `after` of this store is a position in a topic
 *   that exists when `low ≤ after ≤ seq`: `seq` is the incarnation's last
 *   sequence number; `low` is its last trimmed one, or, while nothing was
 *   trimmed, its bucket's floor when it was born. In a topic that does not
 *   exist, `after` is a position when `floor ≤ after ≤ issued`, with the
 *   bucket's floor now. Anything else is a gap.
 * - **Cursors.** After a gap, a read with no entries returns the topic's
 *   `seq`, or `issued` for a topic that does not exist.
 *
 * Why no position misses anything: an id at or above the floor is at or
 * above every id the earlier incarnations handed out, so it is either their
 * very last id or a cursor given while the topic did not exist; and an
 * incarnation born after that id was handed out has ids above it, so had
 * one come and gone since, its last id would have raised the floor above
 * the client's. Hence a client at the last id of a forgotten topic (or at
 * the cursor of a read that found nothing) resumes without a reset, unless
 * a topic of its bucket with later ids was forgotten in the meantime; then
 * it gets a reset it did not strictly need, the price of keeping nothing
 * per topic. An id taken from another topic of the same store is not
 * detected, as before: ids are ordered per topic.
 *
 * (Over ~150 lines: a third is this account of forgetting; the store is
 * one closure over its logs, whose parts — evicting, expiring, releasing,
 * sweeping — share them; the buckets of floors are `_floors.ts`.)
 *
 * @module
 */

import {
  compareStreamIds,
  historyBounds,
  type HubEntry,
  type HubHistory,
  type HubReadResult,
  type HubRecord,
  type HubStore,
  type HubTailHandler,
  storeClosed,
  topicEnded,
} from "./store.ts";
import { deliver, sequenceOf } from "./_local_store.ts";
import { Floors } from "./_floors.ts";
import { checkOption } from "./_checks.ts";

// Re-exported so this module documents on its own (deno doc --lint).
export type {
  HubEntry,
  HubHistory,
  HubReadResult,
  HubRecord,
  HubStore,
  HubTailHandler,
};

/**
 * Options for {@linkcode memoryStore}: the history bounds and a clock.
 *
 * @example A store with a fake clock, for tests of expiry
 * ```ts
 * import { memoryStore, type MemoryStoreOptions } from "@ssekit/ssekit";
 *
 * let time = 0;
 * const options: MemoryStoreOptions = { ttl: 1_000, now: () => time };
 * const store = memoryStore(options);
 * await store.close();
 * ```
 */
export interface MemoryStoreOptions extends HubHistory {
  /** The clock for `ttl`, in milliseconds. @default {Date.now} */
  now?: () => number;
}

interface Log {
  // The kept entries are entries[head…] with their append times in times[].
  entries: (HubEntry | undefined)[];
  times: number[];
  head: number;
  /** The last sequence number handed out: at birth, the store's `issued`. */
  seq: number;
  /** The lowest position: the last entry trimmed, else the bucket's floor at birth. */
  low: number;
  /**
   * The id of the entry that ended the topic, once one has. Forgotten with
   * the record, when its entries are gone: the topic may start again.
   */
  end: string | undefined;
  handlers: Set<HubTailHandler>;
}

// Two stores made in the same millisecond would share an epoch and take
// each other's ids for their own.
let lastEpoch = 0;
/**
 * An in-process {@linkcode HubStore}: per-topic histories bounded by
 * `max` events and `ttl` milliseconds, ids `<epoch>-<sequence>` where the
 * epoch is the store's creation time (unique within the process) and the
 * sequence increases with every event of a topic.
 *
 * The epoch makes ids from another store, or from before a restart,
 * recognisable: they read as a gap instead of a wrong position. Expiry runs
 * on appends and reads (no timers): each append also expires a couple of
 * other topics, round-robin, so idle topics let go of old events too. A
 * topic with no events left and no tail is forgotten entirely, so topics
 * cost nothing once they are gone; its ids still never repeat (see the
 * module documentation for how old ids are judged).
 *
 * @example A hub with a short history
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHub, memoryStore } from "@ssekit/ssekit";
 *
 * const hub = createHub({ store: memoryStore({ max: 50, ttl: 60_000 }) });
 * const id = await hub.publish("news", { data: "hello" });
 * assert.match(id, /^\d+-1$/); // <store epoch ms>-<sequence>, e.g. "1732250000000-1"
 * await hub.close();
 * ```
 *
 * @param options History bounds (defaults: {@linkcode DEFAULT_HISTORY}) and
 * a clock.
 * @returns A store for {@linkcode createHub}.
 * @throws {RangeError} When `max` or `ttl` is out of range.
 * @throws {TypeError} When `now` is not a function.
 */
export function memoryStore(options: MemoryStoreOptions = {}): HubStore {
  const { max, ttl } = historyBounds(options, "memoryStore", "");
  const now = options.now ?? Date.now;
  checkOption(
    typeof now === "function",
    "memoryStore",
    "now",
    "a function returning milliseconds",
    now,
  );
  lastEpoch = Math.max(Date.now(), lastEpoch + 1);
  const epoch = String(lastEpoch);
  const prefix = epoch + "-";
  const logs = new Map<string, Log>();
  let sweeper: Iterator<[string, Log]> | undefined;
  let closed = false;
  // The highest sequence number any topic has handed out.
  let issued = 0;
  // Per bucket, the highest floor of a forgotten topic.
  const floors = new Floors();

  const count = (log: Log) => log.entries.length - log.head;
  const evict = (log: Log) => {
    log.entries[log.head++] = undefined;
    log.low = log.seq - count(log);
    if (log.head === log.entries.length) {
      log.entries.length = 0;
      log.times.length = 0;
      log.head = 0;
    } else if (log.head >= 1_024 && log.head * 2 >= log.entries.length) {
      // Amortised O(1): each entry is copied at most once per halving.
      log.entries = log.entries.slice(log.head);
      log.times = log.times.slice(log.head);
      log.head = 0;
    }
  };
  const expire = (log: Log) => {
    if (ttl === Infinity) return;
    const cutoff = now() - ttl;
    while (log.head < log.entries.length && log.times[log.head] < cutoff) {
      evict(log);
    }
  };
  // Forgets a topic with no entries and no tails, leaving its floor in its
  // bucket (a no-op for one that never had an entry: its floor came from
  // there).
  const release = (topic: string, log: Log) => {
    if (
      count(log) > 0 || log.handlers.size > 0 || logs.get(topic) !== log
    ) return;
    logs.delete(topic);
    floors.leave(topic, log.low);
  };
  const sweep = () => {
    for (let step = 0; step < 2; step++) {
      sweeper ??= logs.entries();
      const next = sweeper.next();
      if (next.done) {
        sweeper = undefined;
        return;
      }
      const [topic, log] = next.value;
      expire(log);
      release(topic, log);
    }
  };
  // A new incarnation starts above every id handed out so far, so no id of
  // an earlier one can be mistaken for one of its entries.
  const logOf = (topic: string) => {
    let log = logs.get(topic);
    if (!log) {
      log = {
        entries: [],
        times: [],
        head: 0,
        seq: issued,
        low: floors.of(topic),
        end: undefined,
        handlers: new Set(),
      };
      logs.set(topic, log);
    }
    return log;
  };

  return {
    append(topic, record) {
      if (closed) throw storeClosed("memory");
      const log = logOf(topic);
      if (log.end !== undefined) throw topicEnded(topic);
      const time = now();
      const seq = ++log.seq;
      if (seq > issued) issued = seq;
      const entry: HubEntry = Object.freeze({ id: prefix + seq, ...record });
      if (record.end) log.end = entry.id;
      log.entries.push(entry);
      log.times.push(time);
      while (count(log) > max) evict(log);
      expire(log);
      if (ttl !== Infinity) sweep();
      deliver(log.handlers, entry);
      // With max 0 nothing is kept: an untailed topic is gone at once.
      release(topic, log);
      return entry.id;
    },

    read(topic, afterId, limit) {
      if (closed) throw storeClosed("memory");
      const after = sequenceOf(afterId, prefix);
      // A read leaves forgetting to the sweep: the record answers more
      // exactly than the bucket's floor would.
      const log = logs.get(topic);
      if (!log) {
        const gap = after < floors.of(topic) || after > issued;
        return {
          entries: [],
          gap,
          cursor: prefix + (gap ? issued : after),
          absent: true,
        };
      }
      expire(log);
      const kept = count(log);
      const trimmed = log.seq - kept;
      const gap = after < log.low || after > log.seq;
      const start = gap ? 0 : Math.max(0, after - trimmed);
      const end = Math.min(kept, start + Math.max(1, limit));
      const entries = start < end
        ? log.entries.slice(log.head + start, log.head + end) as HubEntry[]
        : [];
      const cursor = entries.length > 0
        ? entries[entries.length - 1].id
        : prefix + (gap ? log.seq : after);
      if (log.end !== undefined) return { entries, gap, cursor, end: log.end };
      // Only tailed, or its entries all expired: as if it were not there.
      return kept === 0 ? { entries, gap, cursor, absent: true } : {
        entries,
        gap,
        cursor,
      };
    },

    tail(topic, handler, signal) {
      if (closed) throw storeClosed("memory");
      if (signal.aborted) return;
      const log = logOf(topic);
      log.handlers.add(handler);
      signal.addEventListener("abort", () => {
        log.handlers.delete(handler);
        if (closed || log.handlers.size > 0) return;
        expire(log);
        release(topic, log);
      }, { once: true });
    },

    compare: compareStreamIds,

    close() {
      closed = true;
      logs.clear();
      sweeper = undefined;
      floors.clear();
    },
  };
}
