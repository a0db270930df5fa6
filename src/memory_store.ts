/**
 * {@linkcode memoryStore}: the in-process {@linkcode HubStore}, the default
 * store of a hub.
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
} from "./store.ts";

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
  /** The last sequence number handed out; it never goes back. */
  seq: number;
  /** The id of the entry that ended the topic, once one has. */
  end: string | undefined;
  handlers: Set<HubTailHandler>;
}

// Two stores made in the same millisecond would share an epoch and take
// each other's ids for their own.
let lastEpoch = 0;
const DIGITS = /^(?:0|[1-9][0-9]*)$/;

function topicEnded(topic: string): TypeError {
  return new TypeError(
    `The topic ${
      JSON.stringify(topic)
    } has ended: nothing can be appended to it until its history expires`,
  );
}

function storeClosed(): TypeError {
  return new TypeError(
    "The memory store is closed: append(), read() and tail() are not allowed after close()",
  );
}

/**
 * An in-process {@linkcode HubStore}: per-topic histories bounded by
 * `max` events and `ttl` milliseconds, ids `<epoch>-<sequence>` where the
 * epoch is the store's creation time (unique within the process) and the
 * sequence counts the topic's events from 1.
 *
 * The epoch makes ids from another store, or from before a restart,
 * recognisable: they read as a gap instead of a wrong position. Expiry runs
 * on appends and reads (no timers): each append also expires a couple of
 * other topics, round-robin, so idle topics let go of old events too. A
 * topic keeps a small record of its sequence after its events expire, as an
 * emptied Redis stream does, so its ids never repeat.
 *
 * @example A hub with a short history
 * ```ts
 * import { createHub, memoryStore } from "@ssekit/ssekit";
 *
 * const hub = createHub({ store: memoryStore({ max: 50, ttl: 60_000 }) });
 * const id = await hub.publish("news", { data: "hello" });
 * console.log(id); // e.g. "1732250000000-1"
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
  const { max, ttl } = historyBounds(options);
  const now = options.now ?? Date.now;
  if (typeof now !== "function") {
    throw new TypeError(
      `Invalid memoryStore option "now": expected a function returning milliseconds, got ${typeof now}`,
    );
  }
  lastEpoch = Math.max(Date.now(), lastEpoch + 1);
  const epoch = String(lastEpoch);
  const prefix = epoch + "-";
  const logs = new Map<string, Log>();
  let sweeper: Iterator<Log> | undefined;
  let closed = false;

  const count = (log: Log) => log.entries.length - log.head;
  const evict = (log: Log) => {
    log.entries[log.head++] = undefined;
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
  const sweep = () => {
    for (let step = 0; step < 2; step++) {
      sweeper ??= logs.values();
      const next = sweeper.next();
      if (next.done) {
        sweeper = undefined;
        return;
      }
      expire(next.value);
    }
  };
  const logOf = (topic: string) => {
    let log = logs.get(topic);
    if (!log) {
      log = {
        entries: [],
        times: [],
        head: 0,
        seq: 0,
        end: undefined,
        handlers: new Set(),
      };
      logs.set(topic, log);
    }
    return log;
  };
  // The sequence number of one of this store's ids, or -1 for anything else.
  const sequenceOf = (id: string) => {
    if (!id.startsWith(prefix)) return -1;
    const digits = id.slice(prefix.length);
    if (!DIGITS.test(digits)) return -1;
    const seq = Number(digits);
    return Number.isSafeInteger(seq) ? seq : -1;
  };

  return {
    append(topic, record) {
      if (closed) throw storeClosed();
      const log = logOf(topic);
      if (log.end !== undefined) throw topicEnded(topic);
      const time = now();
      const entry: HubEntry = Object.freeze({
        id: prefix + ++log.seq,
        ...record,
      });
      if (record.end) log.end = entry.id;
      log.entries.push(entry);
      log.times.push(time);
      while (count(log) > max) evict(log);
      expire(log);
      if (ttl !== Infinity) sweep();
      for (const handler of log.handlers) {
        try {
          handler.entry(entry);
        } catch (error) {
          // A broken handler must not stop the others or fail the append.
          log.handlers.delete(handler);
          try {
            handler.error(error);
          } catch {
            // It has been detached; nothing more can be done for it.
          }
        }
      }
      return entry.id;
    },

    read(topic, afterId, limit) {
      if (closed) throw storeClosed();
      const log = logs.get(topic);
      if (log) expire(log);
      const seq = log ? log.seq : 0;
      const kept = log ? count(log) : 0;
      const trimmed = seq - kept;
      const after = typeof afterId === "string" ? sequenceOf(afterId) : -1;
      const gap = after < trimmed || after > seq;
      const start = gap ? 0 : after - trimmed;
      const end = Math.min(kept, start + Math.max(1, limit));
      const entries = log && start < end
        ? log.entries.slice(log.head + start, log.head + end) as HubEntry[]
        : [];
      const cursor = entries.length > 0
        ? entries[entries.length - 1].id
        : prefix + (gap ? seq : after);
      const ended = log?.end;
      const result = ended === undefined
        ? { entries, gap, cursor }
        : { entries, gap, cursor, end: ended };
      return log === undefined || log.seq === 0
        ? { ...result, absent: true }
        : result;
    },

    tail(topic, handler, signal) {
      if (closed) throw storeClosed();
      if (signal.aborted) return;
      const log = logOf(topic);
      log.handlers.add(handler);
      signal.addEventListener("abort", () => {
        log.handlers.delete(handler);
        // A topic never published to keeps no record once nobody tails it.
        if (log.seq === 0 && log.handlers.size === 0) logs.delete(topic);
      }, { once: true });
    },

    compare: compareStreamIds,

    close() {
      closed = true;
      logs.clear();
      sweeper = undefined;
    },
  };
}
