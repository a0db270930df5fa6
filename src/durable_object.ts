/**
 * `ssekit/durable-object`: {@linkcode durableObjectStore}, a
 * {@linkcode HubStore} on a Cloudflare Durable Object's storage, so that a
 * hub living in the object keeps its topics' history (and their ids) when
 * the object is evicted or restarted.
 *
 * The hub and its subscribers live in one object (route a topic's requests
 * to it with `idFromName`), so the store is that object's alone: tails are
 * in-process, as with the memory store, and only the history goes to
 * storage. The storage is typed structurally
 * ({@linkcode DurableObjectStorageLike}): no dependency on
 * `@cloudflare/workers-types`.
 *
 * (Over ~150 lines: half of it is documentation; the store is one closure
 * over its state cache and operation queue. How topics lie in storage and
 * expire is `durable_object/_records.ts`; the ids and tails are
 * `_local_store.ts`'s.)
 *
 * @module
 */

import {
  compareStreamIds,
  historyBounds,
  type HubEntry,
  type HubHistory,
  type HubLeaseState,
  type HubReadResult,
  type HubRecord,
  type HubStore,
  type HubTailHandler,
  storeClosed,
  topicEnded,
} from "./store.ts";
import { checkOption } from "./_checks.ts";
import { deliver, sequenceOf } from "./_local_store.ts";
import {
  count,
  type Meta,
  Records,
  type State,
  type Stored,
  WIDTH,
} from "./durable_object/_records.ts";

// Re-exported so this module documents on its own (deno doc --lint).
export type {
  HubEntry,
  HubHistory,
  HubLeaseState,
  HubReadResult,
  HubRecord,
  HubStore,
  HubTailHandler,
};

/**
 * The part of a Durable Object's storage (`ctx.storage`, the
 * `DurableObjectStorage` of `@cloudflare/workers-types`) the store uses.
 *
 * @example Taking the storage of a Durable Object
 * ```ts
 * import type { DurableObjectStorageLike } from "@ssekit/ssekit/durable-object";
 *
 * function storageOf(ctx: { storage: DurableObjectStorageLike }) {
 *   return ctx.storage;
 * }
 * ```
 */
export interface DurableObjectStorageLike {
  /** The value of `key`, or undefined. */
  get(key: string): Promise<unknown>;
  /** Writes several keys at once, atomically. */
  put(entries: Record<string, unknown>): Promise<void>;
  /** Deletes up to 128 keys. */
  delete(keys: string[]): Promise<number>;
  /** Keys in order, from `start` (inclusive) or after `startAfter`. */
  list(options: {
    prefix?: string;
    start?: string;
    startAfter?: string;
    limit?: number;
  }): Promise<Map<string, unknown>>;
}

/**
 * Options for {@linkcode durableObjectStore}: the history bounds, a key
 * prefix and a clock.
 *
 * @example Two hubs in one object, each with its own keys
 * ```ts
 * import type { DurableObjectStoreOptions } from "@ssekit/ssekit/durable-object";
 *
 * const chat: DurableObjectStoreOptions = { prefix: "chat:", max: 500 };
 * const feed: DurableObjectStoreOptions = { prefix: "feed:", ttl: 60_000 };
 * ```
 */
export interface DurableObjectStoreOptions extends HubHistory {
  /** Prepended to every key the store writes. @default {"ssekit:"} */
  prefix?: string;
  /** The clock for `ttl`, in milliseconds. @default {Date.now} */
  now?: () => number;
}

/**
 * A {@linkcode HubStore} on a Durable Object's storage: per-topic histories
 * bounded by `max` events and `ttl` milliseconds, ids `<epoch>-<sequence>`
 * that stay valid across evictions and restarts of the object (the epoch
 * is made once, when the storage is first used). It is the memory store
 * kept on disk: ids, gaps, ended topics and the forgetting of expired
 * topics follow its rules, except that a forgotten topic leaves its floor
 * in one store-wide value rather than in per-name buckets (a client resuming
 * a long-forgotten topic may get a reset it did not strictly need).
 *
 * One store per storage and prefix: it serializes its own operations and
 * tails in-process, so the hub that uses it must be the object's only
 * writer of those keys. Expiry runs on appends and reads, no alarms.
 *
 * @example A Durable Object holding a hub whose history survives eviction
 * ```ts ignore
 * // Not run as a doctest: it needs the Workers runtime (DurableObjectState);
 * // tests/workerd/ runs durableObjectStore inside workerd.
 * import { createHub } from "@ssekit/ssekit";
 * import { durableObjectStore } from "@ssekit/ssekit/durable-object";
 *
 * export class Topics {
 *   hub;
 *   constructor(ctx: DurableObjectState) {
 *     this.hub = createHub({ store: durableObjectStore(ctx.storage) });
 *   }
 *   async fetch(request: Request): Promise<Response> {
 *     const topic = new URL(request.url).pathname.slice(1);
 *     if (request.method === "POST") {
 *       return Response.json({ id: await this.hub.publish(topic, await request.json()) });
 *     }
 *     return this.hub.response(request, topic);
 *   }
 * }
 * ```
 *
 * @param storage The object's storage, `ctx.storage`.
 * @param options History bounds (defaults: `DEFAULT_HISTORY`), a key
 * prefix and a clock.
 * @returns A store for `createHub`.
 * @throws {RangeError} When `max` or `ttl` is out of range.
 * @throws {TypeError} When `storage` lacks get/put/delete/list, or `now`
 * is not a function.
 */
export function durableObjectStore(
  storage: DurableObjectStorageLike,
  options: DurableObjectStoreOptions = {},
): HubStore {
  const { max, ttl } = historyBounds(options, "durableObjectStore", "");
  const { prefix = "ssekit:", now = Date.now } = options;
  for (const method of ["get", "put", "delete", "list"] as const) {
    if (typeof storage?.[method] !== "function") {
      throw new TypeError(
        `Invalid storage for durableObjectStore: expected a Durable Object's storage (ctx.storage) with ${method}()`,
      );
    }
  }
  checkOption(
    typeof now === "function",
    "durableObjectStore",
    "now",
    "a function returning milliseconds",
    now,
  );
  const handlers = new Map<string, Set<HubTailHandler>>();
  const records = new Records(
    storage,
    prefix,
    ttl,
    now,
    (topic) => (handlers.get(topic)?.size ?? 0) > 0,
  );
  let state: State | undefined;
  let closed = false;
  // One operation at a time: each reads and writes several keys.
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(operation: () => Promise<T>): Promise<T> => {
    if (closed) {
      return Promise.reject(storeClosed("Durable Object"));
    }
    const result = queue.then(operation).catch((error) => {
      // What is cached may not be what was written: read it again.
      state = undefined;
      throw error;
    });
    queue = result.catch(() => {});
    return result;
  };

  const load = async (): Promise<State> => {
    if (state) return state;
    const stored = await storage.get(records.stateKey) as State | undefined;
    if (stored) return state = stored;
    // Random digits too: two objects made in one millisecond must not share
    // an epoch, or each would take the other's ids for its own.
    const epoch = String(Date.now()) +
      String(Math.floor(Math.random() * 1e6)).padStart(6, "0");
    state = { epoch, issued: 0, floor: 0 };
    await storage.put({ [records.stateKey]: state });
    return state;
  };
  const id = (seq: number) => `${state!.epoch}-${seq}`;

  return {
    append: (topic, record) =>
      serially(async () => {
        const { issued, floor } = await load();
        const meta =
          await storage.get(records.metaKey(topic)) as Meta | undefined ??
            { topic, seq: issued, first: issued + 1, low: floor };
        if (meta.end !== undefined) throw topicEnded(topic);
        const seq = ++meta.seq;
        state!.issued = Math.max(issued, seq);
        const entry: HubEntry = Object.freeze({ id: id(seq), ...record });
        if (record.end) meta.end = entry.id;
        // Beyond `max`, the oldest entries go, the new one too with max 0.
        const stale: string[] = [];
        while (count(meta) > max) {
          if (meta.first < seq) stale.push(records.entryKey(topic, meta.first));
          meta.low = meta.first++;
        }
        await Promise.all([
          storage.put({
            ...count(meta) > 0
              ? { [records.entryKey(topic, seq)]: [now(), { ...record }] }
              : {},
            [records.stateKey]: state,
          }),
          records.deleteKeys(stale),
        ]);
        await records.expire(meta);
        await records.settle(meta, state!);
        if (ttl !== Infinity) await records.sweep(state!);
        const tails = handlers.get(topic);
        if (tails) deliver(tails, entry);
        return entry.id;
      }),

    read: (topic, afterId, limit) =>
      serially(async (): Promise<HubReadResult> => {
        const { issued, floor } = await load();
        const after = sequenceOf(afterId, `${state!.epoch}-`);
        const meta = await storage.get(records.metaKey(topic)) as
          | Meta
          | undefined;
        if (!meta) {
          const gap = after < floor || after > issued;
          return {
            entries: [],
            gap,
            cursor: id(gap ? issued : after),
            absent: true,
          };
        }
        // Forgetting is left to the sweep: the record answers more exactly.
        if (await records.expire(meta)) {
          await storage.put({ [records.metaKey(topic)]: meta });
        }
        const gap = after < meta.low || after > meta.seq;
        const start = gap ? meta.first : Math.max(after + 1, meta.first);
        const found = start > meta.seq ? new Map() : await storage.list({
          prefix: records.entryPrefix(topic),
          start: records.entryKey(topic, start),
          limit: Math.min(Math.max(1, limit), meta.seq - start + 1),
        });
        const entries: HubEntry[] = [];
        for (const [key, [, record]] of found as Map<string, Stored>) {
          const seq = Number(key.slice(-WIDTH));
          entries.push(Object.freeze({ id: id(seq), ...record }));
        }
        const cursor = entries.at(-1)?.id ?? id(gap ? meta.seq : after);
        if (meta.end !== undefined) {
          return { entries, gap, cursor, end: meta.end };
        }
        return count(meta) === 0
          ? { entries, gap, cursor, absent: true }
          : { entries, gap, cursor };
      }),

    tail(topic, handler, signal) {
      if (closed) throw storeClosed("Durable Object");
      if (signal.aborted) return;
      let set = handlers.get(topic);
      if (!set) handlers.set(topic, set = new Set());
      set.add(handler);
      signal.addEventListener("abort", () => {
        set.delete(handler);
        if (set.size > 0 || handlers.get(topic) !== set) return;
        handlers.delete(topic);
        if (closed) return;
        serially(async () => {
          const loaded = await load();
          const meta = await storage.get(records.metaKey(topic)) as
            | Meta
            | undefined;
          if (meta && (await records.expire(meta) || count(meta) === 0)) {
            await records.settle(meta, loaded);
          }
        }).catch(() => {
          // Expiry is retried by the sweep and by reads.
        });
      }, { once: true });
    },

    compare: compareStreamIds,

    close() {
      closed = true;
      handlers.clear();
    },
  };
}
