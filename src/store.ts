/**
 * The {@linkcode HubStore} contract: what a hub needs from the place its
 * events, ids and history live (appending, reading from an id, tailing),
 * and the history bounds every store applies. {@linkcode memoryStore} and
 * the Redis Streams store (`ssekit/redis`) implement it.
 *
 * (Over ~150 lines: it is the contract's documented types, read as one;
 * the code is the few helpers every store shares, at the end.)
 *
 * @module
 */

import { checkOption, isCount, isPositive } from "./_checks.ts";

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
 * import assert from "node:assert/strict";
 * import { DEFAULT_HISTORY } from "@ssekit/ssekit";
 *
 * assert.deepEqual(DEFAULT_HISTORY, { max: 1000, ttl: 300_000 });
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
  /**
   * Marks the topic's last record: it ends the topic (see
   * {@linkcode HubStore}, "Ending"). The record's other fields, if any, are
   * its last event.
   */
  readonly end?: true;
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
  /** The id of the topic's end entry, when the topic has ended. */
  readonly end?: string;
  /**
   * True when the store knows nothing of the topic: no entry, no end and
   * no relay lease (never used, or expired). Optional: a store that cannot
   * tell leaves it out.
   */
  readonly absent?: boolean;
}

/**
 * Receives a topic's new entries from {@linkcode HubStore.tail}.
 *
 * @example Following a topic's new entries
 * ```ts
 * import assert from "node:assert/strict";
 * import { type HubEntry, memoryStore, type HubTailHandler } from "@ssekit/ssekit";
 *
 * const store = memoryStore();
 * const entries: HubEntry[] = [];
 * const handler: HubTailHandler = {
 *   entry: (entry) => entries.push(entry),
 *   gap: () => console.warn("entries were lost"),
 *   error: (reason) => console.error("tail failed", reason),
 * };
 * const stop = new AbortController();
 * await store.tail("prices", handler, stop.signal);
 * const id = await store.append("prices", { data: "9.5" });
 * assert.deepEqual(entries.map((entry) => [entry.id, entry.data]), [[id, "9.5"]]);
 * stop.abort();
 * await store.close();
 * ```
 */
export interface HubTailHandler {
  /** One new entry; entries arrive in id order. Must not throw. */
  entry(entry: HubEntry): void;
  /**
   * Entries were lost before the tail could deliver them: a break in the
   * store's connection outlasted its history, or the store lost its data (a
   * restart without persistence). The entries after the loss follow as
   * usual; the hub announces the gap to its live subscribers with a reset
   * event, so a loss is never silent. Must not throw.
   */
  gap(): void;
  /**
   * The tail failed and delivers nothing more (a lost connection, say); the
   * hub then ends the topic's subscriptions with `reason`, and clients
   * reconnect and resume from history.
   */
  error(reason: unknown): void;
}

/**
 * What {@linkcode HubStore.lease} found: the lease is held, a stop was
 * asked for, or it is lost.
 *
 * @example Reacting to a renewal
 * ```ts
 * import type { HubLeaseState } from "@ssekit/ssekit";
 *
 * function onRenewal(state: HubLeaseState, stop: AbortController): void {
 *   if (state !== "ok") stop.abort(state);
 * }
 * ```
 */
export type HubLeaseState = "ok" | "abort" | "lost";

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
 * order, or be announced lost with `gap()`; entries appended shortly before
 * may be delivered too (they are de-duplicated).
 *
 * **Ending.** An appended record with `end: true` ends its topic: the store
 * refuses later appends to it with a `TypeError` until the topic's history
 * expires (a topic left alone for `ttl` may start again), and `read`
 * reports the end entry's id as `end`, also once the entry itself is gone.
 *
 * **Retention** belongs to the store, and so does knowing what it trimmed:
 * `read` reports a `gap` for any id after which an entry is no longer kept
 * (or that was never a position: another store's, malformed, from before a
 * restart that lost the data).
 *
 * Methods may answer synchronously or with a promise.
 *
 * @example A store that logs appends around the memory store
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHub, type HubStore, memoryStore } from "@ssekit/ssekit";
 *
 * function logged(inner: HubStore, log: (line: string) => void): HubStore {
 *   return {
 *     append: async (topic, record) => {
 *       const id = await inner.append(topic, record);
 *       log(`appended ${topic} ${id}`);
 *       return id;
 *     },
 *     read: (topic, afterId, limit) => inner.read(topic, afterId, limit),
 *     tail: (topic, handler, signal) => inner.tail(topic, handler, signal),
 *     compare: (a, b) => inner.compare(a, b),
 *     close: () => inner.close(),
 *   };
 * }
 *
 * const lines: string[] = [];
 * const store = logged(memoryStore({ max: 100 }), (line) => lines.push(line));
 * const hub = createHub({ store });
 * const id = await hub.publish("news", { data: "hello" });
 * assert.deepEqual(lines, [`appended news ${id}`]);
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
  /**
   * Optional, for a store that several instances share: takes or renews
   * `holder`'s lease on `topic` (its run of `hub.relay`) for `ms`.
   * `"ok"`: held; `"abort"`: someone asked the run to stop (see
   * `requestAbort`), and the lease is let go; `"lost"`: the topic has ended
   * or another holder's lease on it is still valid. Leases are how a run on
   * one instance is stopped from another, and how a run whose instance died
   * is found (see `reap`).
   */
  lease?(
    topic: string,
    holder: string,
    ms: number,
  ): HubLeaseState | Promise<HubLeaseState>;
  /** Optional, with `lease`: gives up `holder`'s lease on `topic`. */
  release?(topic: string, holder: string): void | Promise<void>;
  /**
   * Optional, with `lease`: asks the holder of `topic`'s lease to stop; it
   * hears it at its next renewal. False when nobody holds one.
   */
  requestAbort?(topic: string): boolean | Promise<boolean>;
  /**
   * Optional, with `lease`: ends each topic whose lease has expired (its
   * instance died or lost the store) with `record`, as `append` of
   * `{ ...record, end: true }` would; resolves to how many it ended.
   */
  reap?(record: HubRecord): number | Promise<number>;
}

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

/**
 * Validates the history bounds and fills in the defaults; shared by the
 * stores. Messages name them `<path>max` and `<path>ttl` options of
 * `owner`: by default `createHub`'s `history`, which it hands to
 * `memoryStore`; a store given them directly names itself and no path.
 */
export function historyBounds(
  options: HubHistory,
  owner = "createHub",
  path = "history.",
): Required<HubHistory> {
  const { max = DEFAULT_HISTORY.max, ttl = DEFAULT_HISTORY.ttl } = options;
  checkOption(
    isCount(max, 0),
    owner,
    `${path}max`,
    "a safe integer ≥ 0 (events per topic)",
    max,
    RangeError,
  );
  checkOption(
    isPositive(ttl),
    owner,
    `${path}ttl`,
    "a positive number of milliseconds or Infinity",
    ttl,
    RangeError,
  );
  return { max, ttl };
}

/**
 * The error every store gives for an append to a topic that has ended.
 * Internal: shared by the stores, not exported from the entry point.
 */
export function topicEnded(topic: string): TypeError {
  return new TypeError(
    `The topic ${
      JSON.stringify(topic)
    } has ended: nothing can be appended to it until its history expires`,
  );
}

/**
 * The error every store gives for an append, read or tail after its
 * `close()`; `store` names it ("memory", "Redis"…). Internal: shared by
 * the stores, not exported from the entry point.
 */
export function storeClosed(store: string): TypeError {
  return new TypeError(
    `The ${store} store is closed: append(), read() and tail() are not allowed after close()`,
  );
}
