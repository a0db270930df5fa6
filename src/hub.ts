/**
 * {@linkcode createHub}: publish an event once, fan it out to every
 * subscriber of its topic, and let reconnecting clients resume from their
 * `Last-Event-ID` without gaps or duplicates.
 *
 * The hub keeps no events itself: a {@linkcode HubStore} assigns ids, keeps a
 * bounded history and tails new entries. {@linkcode memoryStore} is the
 * in-process store; the interface is shaped so a Redis Streams store (`XADD`
 * with `MAXLEN`/`MINID`, `XRANGE`, blocking `XREAD`) can implement it too.
 *
 * @module
 */

import { formatEvent, type FormatEventOptions } from "./encode.ts";
import { createSSEStream, type SSEStreamOptions } from "./stream.ts";
import type { SSEEvent } from "./types.ts";
import { getLastEventId } from "./last_event_id.ts";
import { describe } from "./describe.ts";

// Re-exported so this module documents on its own (deno doc --lint).
export type { FormatEventOptions, SSEEvent, SSEStreamOptions };

// ---------------------------------------------------------------------------
// The store interface

/**
 * How much history a store keeps per topic: at most `max` events, none older
 * than `ttl` milliseconds. Both bounds always apply.
 *
 * @example A short history for chat typing indicators
 * ```ts
 * import { createHub, type HubHistory } from "@ssekit/ssekit";
 *
 * const history: HubHistory = { max: 100, ttl: 30_000 };
 * const hub = createHub({ history });
 * await hub.close();
 * ```
 */
export interface HubHistory {
  /** Most events kept per topic: a non-negative safe integer. @default {1000} */
  max?: number;
  /**
   * Milliseconds an event stays replayable: a positive number (`Infinity`
   * leaves only `max`). @default {300000}
   */
  ttl?: number;
}

/**
 * The default {@linkcode HubHistory}: 1,000 events, 5 minutes.
 *
 * @example Reading the defaults
 * ```ts
 * import { DEFAULT_HISTORY } from "@ssekit/ssekit";
 *
 * console.log(DEFAULT_HISTORY.max, DEFAULT_HISTORY.ttl); // 1000 300000
 * ```
 */
export const DEFAULT_HISTORY: Readonly<Required<HubHistory>> = Object.freeze({
  max: 1_000,
  ttl: 300_000,
});

/**
 * An event as a store keeps it: an {@linkcode SSEEvent} without an id whose
 * `data` is already serialized text, so any store can persist it as strings
 * (a Redis stream entry's fields, for instance) and every subscriber sends
 * the same bytes.
 *
 * @example The record for a JSON payload
 * ```ts
 * import type { HubRecord } from "@ssekit/ssekit";
 *
 * const record: HubRecord = { event: "price", data: '{"symbol":"ACME","price":9.5}' };
 * ```
 */
export interface HubRecord {
  /** The serialized payload, sent as `data:` lines. */
  readonly data?: string;
  /** The event type. */
  readonly event?: string;
  /** A reconnection delay hint in milliseconds. */
  readonly retry?: number;
  /** A comment line. */
  readonly comment?: string;
}

/**
 * A stored event with the id its store assigned. Stores hand out frozen
 * entries: one object is shared by every subscriber.
 *
 * @example An entry from the memory store
 * ```ts
 * import type { HubEntry } from "@ssekit/ssekit";
 *
 * const entry: HubEntry = { id: "1732250000000-7", event: "price", data: "9.5" };
 * ```
 */
export interface HubEntry extends HubRecord {
  /** The id: ordered within its topic by {@linkcode HubStore.compare}. */
  readonly id: string;
}

/**
 * What {@linkcode HubStore.read} found after an id.
 *
 * @example A read that had to skip events that were no longer kept
 * ```ts
 * import type { HubReadResult } from "@ssekit/ssekit";
 *
 * const result: HubReadResult = {
 *   entries: [{ id: "1732250000000-41", data: "oldest kept" }],
 *   gap: true,
 *   cursor: "1732250000000-41",
 * };
 * ```
 */
export interface HubReadResult {
  /** The entries after the id, oldest first, at most `limit` of them. */
  readonly entries: readonly HubEntry[];
  /**
   * True when the id is not a position in the topic's history (trimmed
   * away, malformed, in the future, or from another store or an earlier
   * process), so events may have been missed: `entries` then start at the
   * oldest entry kept.
   */
  readonly gap: boolean;
  /**
   * Where the next read continues: the last entry's id or, with no entries,
   * an id for "after everything so far" (`afterId` itself when it was a
   * valid position). A client told this id resumes without another gap.
   */
  readonly cursor: string;
}

/**
 * Receives a topic's new entries from {@linkcode HubStore.tail}.
 *
 * @example Logging a topic's new entries
 * ```ts
 * import { memoryStore, type HubTailHandler } from "@ssekit/ssekit";
 *
 * const store = memoryStore();
 * const handler: HubTailHandler = {
 *   entry: (entry) => console.log(entry.id, entry.data),
 *   error: (reason) => console.error("tail failed", reason),
 * };
 * const stop = new AbortController();
 * await store.tail("prices", handler, stop.signal);
 * await store.append("prices", { data: "9.5" }); // logs "<id> 9.5"
 * stop.abort();
 * await store.close();
 * ```
 */
export interface HubTailHandler {
  /** One new entry; entries arrive in id order. Must not throw. */
  entry(entry: HubEntry): void;
  /**
   * The tail failed and delivers nothing more (a lost connection, say); the
   * hub then ends the topic's subscriptions with `reason`, and clients
   * reconnect and resume from history.
   */
  error(reason: unknown): void;
}

/**
 * Where a hub keeps its events: it assigns ids, keeps a bounded history per
 * topic, and tails new entries. Implement it to put a hub on shared storage.
 *
 * **Ids** are strings the store alone understands: the hub never parses
 * them, it orders them with {@linkcode HubStore.compare} and passes clients'
 * ids back to {@linkcode HubStore.read}, which must recognise ids that are
 * not its own. Ids increase with every append to a topic, and survive
 * trimming (the next id after a trimmed one is still greater). Redis stream
 * ids (`1700000000000-0`) qualify; so do the memory store's
 * `<store epoch ms>-<sequence>` ids.
 *
 * **Gap-free resume.** The hub starts a topic's tail, waits for `tail()` to
 * resolve, then replays with `read()` page by page, buffering what the tail
 * delivers meanwhile and dropping ids the replay already gave. So:
 * everything appended after `tail()` resolves must reach the handler, in id
 * order; entries appended shortly before may be delivered too (they are
 * de-duplicated). A Redis store can run one blocking `XREAD` loop per topic
 * and resolve `tail()` once the loop's starting id is known.
 *
 * **Retention** belongs to the store (Redis: `XADD … MAXLEN ~ max` plus
 * `XTRIM … MINID now-ttl`; `read` reports a `gap` when the id is below the
 * stream's `max-deleted-entry-id`, newer than its `last-generated-id` or not
 * an id at all).
 *
 * Methods may answer synchronously or with a promise.
 *
 * @example A store that logs appends around the memory store
 * ```ts
 * import { createHub, type HubStore, memoryStore } from "@ssekit/ssekit";
 *
 * function logged(inner: HubStore): HubStore {
 *   return {
 *     append: async (topic, record) => {
 *       const id = await inner.append(topic, record);
 *       console.log("appended", topic, id);
 *       return id;
 *     },
 *     read: (topic, afterId, limit) => inner.read(topic, afterId, limit),
 *     tail: (topic, handler, signal) => inner.tail(topic, handler, signal),
 *     compare: (a, b) => inner.compare(a, b),
 *     close: () => inner.close(),
 *   };
 * }
 *
 * const hub = createHub({ store: logged(memoryStore({ max: 100 })) });
 * await hub.publish("news", { data: "hello" }); // logs "appended news <id>"
 * await hub.close();
 * ```
 */
export interface HubStore {
  /**
   * Appends an event to a topic, applies retention, delivers the entry to
   * the topic's tails, and returns its new id.
   */
  append(topic: string, record: HubRecord): string | Promise<string>;
  /**
   * Up to `limit` (≥ 1) entries of `topic` after `afterId`, oldest first.
   * `afterId` comes from a client and may be anything: an id the store does
   * not know is a `gap`, never an error.
   */
  read(
    topic: string,
    afterId: string,
    limit: number,
  ): HubReadResult | Promise<HubReadResult>;
  /**
   * Starts delivering `topic`'s new entries to `handler` until `signal`
   * aborts; resolves once every later append is sure to be delivered.
   */
  tail(
    topic: string,
    handler: HubTailHandler,
    signal: AbortSignal,
  ): void | Promise<void>;
  /**
   * Orders two ids the store produced for one topic: negative, zero or
   * positive, like a sort comparator.
   */
  compare(a: string, b: string): number;
  /** Releases the store's resources; the hub calls it from `close()`. */
  close(): void | Promise<void>;
}

// ---------------------------------------------------------------------------
// The memory store

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
  handlers: Set<HubTailHandler>;
}

// Two stores made in the same millisecond would share an epoch and take
// each other's ids for their own.
let lastEpoch = 0;
const DIGITS = /^(?:0|[1-9][0-9]*)$/;

// Compares two canonical digit strings without converting them to numbers,
// which would lose precision past 2^53.
function compareDigits(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Orders `<ms>-<seq>` ids (Redis stream ids, memory store ids). Internal:
 * shared with the Redis store, not exported from the entry point.
 */
export function compareStreamIds(a: string, b: string): number {
  const dashA = a.indexOf("-");
  const dashB = b.indexOf("-");
  return compareDigits(a.slice(0, dashA), b.slice(0, dashB)) ||
    compareDigits(a.slice(dashA + 1), b.slice(dashB + 1));
}

function storeClosed(): TypeError {
  return new TypeError(
    "The memory store is closed: append(), read() and tail() are not allowed after close()",
  );
}

/** Validates history bounds and fills in the defaults; shared with the Redis store. */
export function historyBounds(options: HubHistory): Required<HubHistory> {
  const { max = DEFAULT_HISTORY.max, ttl = DEFAULT_HISTORY.ttl } = options;
  if (!Number.isSafeInteger(max) || max < 0) {
    throw new RangeError(
      `Invalid history.max: expected a non-negative safe integer (events per topic), got ${
        String(max)
      }`,
    );
  }
  if (typeof ttl !== "number" || !(ttl > 0)) {
    throw new RangeError(
      `Invalid history.ttl: expected a positive number of milliseconds or Infinity, got ${
        String(ttl)
      }`,
    );
  }
  return { max, ttl };
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
      log = { entries: [], times: [], head: 0, seq: 0, handlers: new Set() };
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
      const time = now();
      const entry: HubEntry = Object.freeze({
        id: prefix + ++log.seq,
        ...record,
      });
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
      return { entries, gap, cursor };
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

// ---------------------------------------------------------------------------
// The hub

/**
 * Options for {@linkcode createHub}.
 *
 * @example A hub for a flaky mobile audience
 * ```ts
 * import { createHub, type HubOptions } from "@ssekit/ssekit";
 *
 * const options: HubOptions = {
 *   history: { max: 5_000, ttl: 10 * 60_000 },
 *   maxQueue: 500,
 *   slow: "disconnect",
 *   closeRetry: { min: 2_000, max: 15_000 },
 * };
 * const hub = createHub(options);
 * await hub.close();
 * ```
 */
export interface HubOptions {
  /**
   * Turns non-string `data` into text, once per published event. It must
   * return a string. @default {JSON.stringify}
   */
  serialize?: (data: unknown) => string;
  /**
   * Where events, ids and history live; the hub owns it and closes it.
   * @default {memoryStore(history)}
   */
  store?: HubStore;
  /**
   * History bounds for the default memory store. With `store`, give them to
   * the store instead. @default {DEFAULT_HISTORY}
   */
  history?: HubHistory;
  /**
   * Most events waiting for one subscriber (a safe integer ≥ 1). Keep it
   * well below `history.max`, so a subscriber disconnected for being slow
   * can still resume from history. @default {256}
   */
  maxQueue?: number;
  /**
   * What happens when a subscriber's queue is full and another event comes:
   *
   * - `"disconnect"`: the subscription ends at once and its queue is freed;
   *   an `EventSource` reconnects with its `Last-Event-ID` and resumes from
   *   history, losing nothing while history still covers it.
   * - `"drop-oldest"`: the oldest waiting event is dropped, and the
   *   subscriber gets a reset event (see `resetEvent`) with data
   *   `"overflow"` before the events that remain.
   *
   * @default {"disconnect"}
   */
  slow?: "disconnect" | "drop-oldest";
  /**
   * The type of the event that tells a subscriber it missed events: sent
   * first on a resume whose id is not in history (data `"history"`), and
   * where `"drop-oldest"` dropped events (data `"overflow"`). Listen with
   * `source.addEventListener("reset", …)`. @default {"reset"}
   */
  resetEvent?: string;
  /**
   * The range (ms) of the `retry` hint each open stream gets when the hub
   * closes, picked at random per stream so clients come back spread out.
   * @default {{ min: 1000, max: 5000 }}
   */
  closeRetry?: { min: number; max: number };
}

/**
 * Options for {@linkcode Hub.subscribe}.
 *
 * @example Resuming after an id, until a signal aborts
 * ```ts
 * import type { HubSubscribeOptions } from "@ssekit/ssekit";
 *
 * const options: HubSubscribeOptions = {
 *   lastEventId: "1732250000000-41",
 *   signal: AbortSignal.timeout(60_000),
 * };
 * ```
 */
export interface HubSubscribeOptions {
  /**
   * Replay every event after this id first. An id no longer (or never) in
   * history gets the reset event, then the oldest event kept. Absent or
   * `""`: live events only, from where the topic's tail is; with a remote
   * store (Redis) whose tail this instance is only starting, that is one
   * round trip after the call, so "after this id" is the exact guarantee.
   */
  lastEventId?: string;
  /** Ends the subscription when aborted; its queue is released at once. */
  signal?: AbortSignal;
}

/**
 * A snapshot of a hub's load, for metrics.
 *
 * @example Exporting gauges
 * ```ts
 * import { createHub, type HubStats } from "@ssekit/ssekit";
 *
 * const hub = createHub();
 * const stats: HubStats = hub.stats();
 * console.log(`sse_subscribers ${stats.subscribers}`);
 * await hub.close();
 * ```
 */
export interface HubStats {
  /** Topics with at least one subscriber. */
  topics: number;
  /** Open subscriptions. */
  subscribers: number;
  /** Events waiting in all subscribers' queues. */
  queued: number;
  /** The longest queue of one subscriber; never above `maxQueue`. */
  maxQueued: number;
}

/**
 * A publish/subscribe hub for Server-Sent Events; see {@linkcode createHub}.
 *
 * @example Publishing and serving a topic
 * ```ts ignore
 * import { createHub, type Hub } from "@ssekit/ssekit";
 *
 * const hub: Hub = createHub();
 * Deno.serve((request) => hub.response(request, "news"));
 * setInterval(() => hub.publish("news", { data: new Date().toISOString() }), 1000);
 * ```
 */
export interface Hub {
  /**
   * Stores `event` under the next id of `topic` and delivers it to every
   * subscriber; resolves to the id. It never waits for a subscriber.
   *
   * The hub assigns ids, so an event that carries its own `id` is rejected,
   * as is any event {@linkcode formatEvent} would reject: a bad event fails
   * here, never in a subscriber's stream. Non-string `data` is serialized
   * once, here, with the hub's `serialize` (`JSON.stringify` by default).
   *
   * @throws {TypeError} (as a rejection) When the hub is closed, the topic
   * is not a non-empty string, or the event is invalid or has an `id`.
   */
  publish(topic: string, event: SSEEvent | string): Promise<string>;
  /**
   * Subscribes to `topic`, at once: events published after this call are
   * kept for the iterator (up to `maxQueue`) even before it is first read.
   * With `lastEventId`, the history after it comes first, then live events:
   * each event exactly once, in order. Entries are yielded as stored
   * (frozen, `data` serialized), plus a reset event where events were
   * missed. When the hub closes, the iterator yields `{ retry }` (a
   * reconnection hint) and ends. Break out of the loop, call `return()` or
   * abort `signal` to end it early.
   *
   * @throws {TypeError} When the hub is closed or an argument is invalid.
   */
  subscribe(
    topic: string,
    options?: HubSubscribeOptions,
  ): AsyncIterableIterator<SSEEvent>;
  /**
   * A `text/event-stream` response for `topic`: resumes after the
   * `Last-Event-ID` header or, on a first connection (where `EventSource`
   * cannot set headers), after a `lastEventId` query parameter; the header
   * wins. It is `createSSEStream(subscription, { signal: request.signal,
   * ...options })`. After `close()` it answers a stream holding only a
   * jittered `retry` hint, so `EventSource` clients come back later instead
   * of failing for good on an error status.
   *
   * @throws {TypeError} When the topic or an option is invalid.
   */
  response(
    request: Request,
    topic: string,
    options?: SSEStreamOptions,
  ): Response;
  /** Counts subscribers and queued events. */
  stats(): HubStats;
  /**
   * Ends every subscription: each gets what was already queued, then a
   * `retry` hint between `closeRetry.min` and `.max`, then its end. Then it
   * closes the store. Afterwards `publish` rejects and `subscribe` throws.
   * Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

const DEFAULT_MAX_QUEUE = 256;
const DEFAULT_CLOSE_RETRY = { min: 1_000, max: 5_000 };
const DONE: IteratorResult<SSEEvent> = Object.freeze({
  done: true,
  value: undefined,
});

// Subscription states.
/** Replaying history; live entries wait in `pending`. */
const REPLAY = 0;
/** Receiving live entries. */
const LIVE = 1;
/** The hub closed: deliver what is queued, then the retry hint. */
const CLOSING = 2;
/** Over; the queue is released. */
const ENDED = 3;

function hubClosed(method: string): TypeError {
  return new TypeError(
    `The hub is closed: ${method}() is not allowed after close(); create a new hub`,
  );
}

function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== "string" || topic === "") {
    throw new TypeError(
      `Invalid topic: expected a non-empty string, got ${
        typeof topic === "string"
          ? '""'
          : topic === null
          ? "null"
          : typeof topic
      }`,
    );
  }
}

interface Topic {
  readonly name: string;
  readonly subscribers: Set<Subscription>;
  readonly aborter: AbortController;
  /** Settles when the store's tail is established. */
  readonly ready: Promise<void>;
}

class HubCore implements Hub {
  readonly store: HubStore;
  readonly maxQueue: number;
  readonly dropOldest: boolean;
  readonly resetEvent: string;
  readonly #serialize: ((data: unknown) => string) | undefined;
  readonly #retryMin: number;
  readonly #retrySpan: number;
  readonly #topics = new Map<string, Topic>();
  #closing: Promise<void> | undefined;

  constructor(options: HubOptions) {
    if (options.store !== undefined && options.history !== undefined) {
      throw new TypeError(
        "Invalid hub options: history configures the default memory store; with a store, give the bounds to the store (memoryStore({ max, ttl }))",
      );
    }
    const store = options.store ?? memoryStore(options.history ?? {});
    for (
      const method of ["append", "read", "tail", "compare", "close"] as const
    ) {
      if (typeof store?.[method] !== "function") {
        throw new TypeError(
          `Invalid hub option "store": expected a HubStore with append, read, tail, compare and close methods; ${method} is ${typeof store
            ?.[
              method
            ]}`,
        );
      }
    }
    this.store = store;

    const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    if (!Number.isSafeInteger(maxQueue) || maxQueue < 1) {
      throw new RangeError(
        `Invalid hub option "maxQueue": expected a safe integer ≥ 1 (events per subscriber), got ${
          String(maxQueue)
        }`,
      );
    }
    this.maxQueue = maxQueue;

    const slow = options.slow ?? "disconnect";
    if (slow !== "disconnect" && slow !== "drop-oldest") {
      throw new TypeError(
        `Invalid hub option "slow": expected "disconnect" or "drop-oldest", got ${
          describe(slow)
        }`,
      );
    }
    this.dropOldest = slow === "drop-oldest";

    const resetEvent = options.resetEvent ?? "reset";
    if (typeof resetEvent !== "string" || resetEvent === "") {
      throw new TypeError(
        `Invalid hub option "resetEvent": expected a non-empty event type, got ${
          describe(resetEvent)
        }`,
      );
    }
    formatEvent({ event: resetEvent }); // Throws on CR or LF.
    this.resetEvent = resetEvent;

    const { serialize } = options;
    if (serialize !== undefined && typeof serialize !== "function") {
      throw new TypeError(
        `Invalid hub option "serialize": expected a function returning a string, got ${typeof serialize}`,
      );
    }
    this.#serialize = serialize;

    const { min, max } = options.closeRetry ?? DEFAULT_CLOSE_RETRY;
    if (
      !Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 ||
      max < min
    ) {
      throw new RangeError(
        `Invalid hub option "closeRetry": expected { min, max } with safe integer milliseconds, 0 ≤ min ≤ max, got ${
          describe(options.closeRetry)
        }`,
      );
    }
    this.#retryMin = min;
    this.#retrySpan = max - min;
  }

  publish(topic: string, event: SSEEvent | string): Promise<string> {
    try {
      if (this.#closing) throw hubClosed("publish");
      checkTopic(topic);
      // append() runs synchronously within this call, so concurrent
      // publishes get ids in call order.
      return Promise.resolve(this.store.append(topic, this.#record(event)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #record(event: SSEEvent | string): HubRecord {
    if (typeof event === "string") return { data: event };
    if (typeof event !== "object" || event === null) {
      throw new TypeError(
        `Invalid published event: expected a string or an object with data, event, retry or comment, got ${
          describe(event)
        }`,
      );
    }
    if (event.id !== undefined) {
      throw new TypeError(
        `Invalid published event: the hub assigns ids and publish() resolves to the new one; remove the "id" field, got ${
          describe(event.id)
        }`,
      );
    }
    const { data, event: type, retry, comment } = event;
    const record: {
      -readonly [K in keyof HubRecord]: HubRecord[K];
    } = {};
    if (type !== undefined) record.event = type;
    if (retry !== undefined) record.retry = retry;
    if (comment !== undefined) record.comment = comment;
    if (data !== undefined) {
      const text = typeof data === "string"
        ? data
        : (this.#serialize ?? JSON.stringify)(data);
      if (typeof text !== "string") {
        throw new TypeError(
          `Invalid SSE event field "data": serialize must return a string, got ${typeof text}`,
        );
      }
      record.data = text;
    }
    // Validates every field exactly as the stream will format it.
    formatEvent(record as SSEEvent);
    return record;
  }

  subscribe(
    topic: string,
    options: HubSubscribeOptions = {},
  ): AsyncIterableIterator<SSEEvent> {
    if (this.#closing) throw hubClosed("subscribe");
    checkTopic(topic);
    const { lastEventId, signal } = options;
    if (lastEventId !== undefined && typeof lastEventId !== "string") {
      throw new TypeError(
        `Invalid subscribe option "lastEventId": expected a string, got ${typeof lastEventId}`,
      );
    }
    if (
      signal !== undefined &&
      typeof (signal as Partial<AbortSignal>)?.addEventListener !== "function"
    ) {
      throw new TypeError(
        `Invalid subscribe option "signal": expected an AbortSignal, got ${typeof signal}`,
      );
    }
    return new Subscription(
      this,
      this.#topic(topic),
      lastEventId || undefined,
      signal,
    );
  }

  response(
    request: Request,
    topic: string,
    options: SSEStreamOptions = {},
  ): Response {
    if (this.#closing) {
      return createSSEStream([{ retry: this.closeRetry() }], {
        signal: request.signal,
        ...options,
      });
    }
    const lastEventId = getLastEventId(request) || undefined;
    const subscription = this.subscribe(topic, { lastEventId });
    try {
      return createSSEStream(subscription, {
        signal: request.signal,
        ...options,
      });
    } catch (error) {
      subscription.return!();
      throw error;
    }
  }

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

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const topics = [...this.#topics.values()];
      this.#topics.clear();
      for (const topic of topics) {
        topic.aborter.abort();
        for (const subscription of topic.subscribers) {
          subscription.close(this.closeRetry());
        }
        topic.subscribers.clear();
      }
      await this.store.close();
    })();
    return this.#closing;
  }

  closeRetry(): number {
    return this.#retryMin + Math.round(Math.random() * this.#retrySpan);
  }

  #topic(name: string): Topic {
    const existing = this.#topics.get(name);
    if (existing) return existing;
    const subscribers = new Set<Subscription>();
    const aborter = new AbortController();
    const handler: HubTailHandler = {
      entry(entry) {
        for (const subscription of subscribers) subscription.push(entry);
      },
      error: (reason) => {
        if (this.#topics.get(name) === topic) this.#topics.delete(name);
        aborter.abort();
        for (const subscription of [...subscribers]) {
          subscription.fail(reason);
        }
      },
    };
    let ready: Promise<void>;
    try {
      ready = Promise.resolve(this.store.tail(name, handler, aborter.signal));
    } catch (error) {
      ready = Promise.reject(error);
    }
    // Live-only subscribers never await `ready`; they learn of a failed
    // tail through the handler.
    ready.catch((error) => {
      if (!aborter.signal.aborted) handler.error(error);
    });
    const topic: Topic = { name, subscribers, aborter, ready };
    this.#topics.set(name, topic);
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
    }
  }
}

class Subscription implements AsyncIterableIterator<SSEEvent> {
  readonly #hub: HubCore;
  readonly #topic: Topic;
  readonly #signal: AbortSignal | undefined;
  #state: number;
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
  #reading = false;
  /** The id of the last entry queued; undefined for a live-only start. */
  #cursor: string | undefined;
  /** Live entries are past the cursor from here on: no more comparing. */
  #synced: boolean;
  #resolve: ((result: IteratorResult<SSEEvent>) => void) | undefined;
  #reject: ((reason: unknown) => void) | undefined;
  #waiting: Promise<IteratorResult<SSEEvent>> | undefined;
  #failure: { reason: unknown } | undefined;
  #retry = 0;

  constructor(
    hub: HubCore,
    topic: Topic,
    lastEventId: string | undefined,
    signal: AbortSignal | undefined,
  ) {
    this.#hub = hub;
    this.#topic = topic;
    this.#cursor = lastEventId;
    this.#state = lastEventId === undefined ? LIVE : REPLAY;
    this.#synced = lastEventId === undefined;
    this.#signal = signal;
    topic.subscribers.add(this);
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

  next(): Promise<IteratorResult<SSEEvent>> {
    if (this.#waiting) return this.#waiting.then(() => this.next());
    const value = this.#take();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.#state === ENDED) {
      const failure = this.#failure;
      if (failure) {
        this.#failure = undefined;
        return Promise.reject(failure.reason);
      }
      return Promise.resolve(DONE);
    }
    this.#waiting = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (this.#state === REPLAY && !this.#reading) void this.#replay();
    return this.#waiting;
  }

  return(): Promise<IteratorResult<SSEEvent>> {
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
    if (state === REPLAY) {
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
    if (state !== LIVE || !this.#isNew(entry)) return;
    const resolve = this.#resolve;
    if (
      resolve && this.#head === this.#queue.length && this.#lost === undefined
    ) {
      // A waiting consumer has nothing queued: hand the entry over.
      this.#settled();
      resolve({ value: entry, done: false });
      return;
    }
    if (this.#queue.length - this.#head >= this.#hub.maxQueue) {
      if (!this.#hub.dropOldest) return this.#end();
      this.#shift();
      this.#lost = "overflow";
      this.#lostId = undefined;
    }
    this.#queue.push(entry);
    if (resolve) this.#wake();
  }

  // The tail may repeat entries the replay gave; it is in id order, so once
  // one entry is new, all later ones are and comparing can stop.
  #isNew(entry: HubEntry): boolean {
    if (this.#synced) return true;
    if (this.#hub.store.compare(entry.id, this.#cursor!) <= 0) return false;
    this.#synced = true;
    return true;
  }

  /** The hub closed: finish with what is queued and a retry hint. */
  close(retry: number): void {
    if (this.#state === ENDED) return;
    this.#state = CLOSING;
    this.#retry = retry;
    this.#pending = [];
    this.#wake();
  }

  /** The store failed: the consumer's next read rejects with `reason`. */
  fail(reason: unknown): void {
    if (this.#state === ENDED) return;
    this.#release();
    const reject = this.#reject;
    if (reject) {
      this.#settled();
      reject(reason);
    } else {
      this.#failure = { reason };
    }
  }

  #onAbort = (): void => this.#end();

  #end(): void {
    if (this.#state === ENDED) return;
    this.#release();
    const resolve = this.#resolve;
    if (resolve) {
      this.#settled();
      resolve(DONE);
    }
  }

  #release(): void {
    this.#state = ENDED;
    this.#queue = [];
    this.#head = 0;
    this.#pending = [];
    this.#lost = undefined;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#hub.leave(this.#topic, this);
  }

  #settled(): void {
    this.#resolve = undefined;
    this.#reject = undefined;
    this.#waiting = undefined;
  }

  #wake(): void {
    const resolve = this.#resolve;
    if (!resolve) return;
    const value = this.#take();
    if (value !== undefined) {
      this.#settled();
      resolve({ value, done: false });
    } else if (this.#state === ENDED) {
      this.#settled();
      resolve(DONE);
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
      const event: SSEEvent = { event: this.#hub.resetEvent, data: lost };
      if (this.#lostId !== undefined) event.id = this.#lostId;
      return event;
    }
    if (this.#head < this.#queue.length) return this.#shift();
    if (this.#state === CLOSING) {
      this.#release();
      return { retry: this.#retry };
    }
    return undefined;
  }

  // Reads history one page at a time, and only when the consumer has taken
  // everything queued, so a replay holds at most maxQueue events.
  async #replay(): Promise<void> {
    this.#reading = true;
    const { store, maxQueue } = this.#hub;
    const topic = this.#topic;
    try {
      await topic.ready;
      while (this.#state === REPLAY) {
        // This read covers whatever the buffer dropped so far.
        if (this.#pending.length >= maxQueue) this.#pending = [];
        this.#overflowed = false;
        const limit = maxQueue - this.#pending.length;
        const { entries, gap, cursor } = await store.read(
          topic.name,
          this.#cursor!,
          limit,
        );
        if (this.#state !== REPLAY) return;
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
        if (entries.length < limit && !this.#overflowed) {
          // Caught up: everything after this read is in `pending` or will
          // come live; both can repeat what the read returned.
          this.#state = LIVE;
          for (const entry of this.#pending) {
            if (this.#isNew(entry)) this.#queue.push(entry);
          }
          this.#pending = [];
        }
        if (this.#head < this.#queue.length || this.#lost !== undefined) break;
      }
      this.#wake();
    } catch (error) {
      this.fail(error);
    } finally {
      this.#reading = false;
    }
  }
}

/**
 * Creates a {@linkcode Hub}: `publish(topic, event)` stores an event under a
 * new id and fans it out to the topic's subscribers; `subscribe` and
 * `response` deliver it, resuming after a `Last-Event-ID` without gaps or
 * duplicates.
 *
 * - **Ids** come from the store, increase per topic, and are the events'
 *   SSE ids, so `EventSource` sends the last one back when it reconnects.
 *   Events with an id of their own are rejected.
 * - **Resume:** history after the id is replayed, then live events follow,
 *   each exactly once and in order, even while publishers race the replay.
 * - **Gaps are announced:** if the id is no longer in history (or unknown,
 *   malformed, or from another hub or an earlier process), the first event
 *   is `event: reset` with `data: history`, then the oldest event kept.
 *   A browser listens with `source.addEventListener("reset", …)` and
 *   reloads its state.
 * - **Slow subscribers** hold at most `maxQueue` events; then `slow`
 *   decides: `"disconnect"` (the client resumes from history) or
 *   `"drop-oldest"` (with a reset event, data `overflow`). Publishing never
 *   waits for a subscriber, and one stuck subscriber costs the others
 *   nothing.
 * - **Shutdown:** `close()` gives every stream a randomized `retry` hint,
 *   so clients reconnect spread out, and ends it.
 *
 * @example A Deno server with a resumable news feed
 * ```ts ignore
 * import { createHub } from "@ssekit/ssekit";
 *
 * const hub = createHub({ history: { max: 1_000, ttl: 5 * 60_000 } });
 *
 * Deno.serve(async (request) => {
 *   const url = new URL(request.url);
 *   if (request.method === "POST") {
 *     const id = await hub.publish("news", { event: "news", data: await request.json() });
 *     return Response.json({ id });
 *   }
 *   // EventSource sends Last-Event-ID itself when it reconnects; a page
 *   // that stored an id can pass ?lastEventId= on its first connection.
 *   return hub.response(request, url.searchParams.get("topic") ?? "news");
 * });
 * ```
 *
 * @example Subscribing in process
 * ```ts
 * import { createHub } from "@ssekit/ssekit";
 *
 * const hub = createHub();
 * const first = await hub.publish("chat", { data: "one" });
 * await hub.publish("chat", { data: { text: "two" } });
 * for await (const event of hub.subscribe("chat", { lastEventId: first })) {
 *   console.log(event.id, event.data); // "<id> {"text":"two"}"
 *   break;
 * }
 * await hub.close();
 * ```
 *
 * @param options The store or history bounds, queue bound and slow policy,
 * reset event type, serializer and close retry range.
 * @returns The hub.
 * @throws {TypeError} When `store`, `slow`, `resetEvent` or `serialize` is
 * invalid, or both `store` and `history` are given.
 * @throws {RangeError} When `maxQueue`, `closeRetry` or a history bound is
 * out of range.
 */
export function createHub(options: HubOptions = {}): Hub {
  return new HubCore(options);
}
