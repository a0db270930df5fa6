/**
 * {@linkcode redisStore}: a {@linkcode HubStore} on Redis Streams, so hubs on
 * several servers (or runtimes) share one history and one id sequence per
 * topic, and a client resumes with its `Last-Event-ID` on any of them.
 *
 * It needs the `ioredis` package (an optional peer dependency of ssekit);
 * nothing else in ssekit imports it.
 *
 * @example Two instances sharing one Redis
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHub } from "@ssekit/ssekit";
 * import { redisStore } from "@ssekit/ssekit/redis";
 *
 * // Two servers' hubs (here in one process) on one Redis.
 * const redis = process.env.REDIS_URL; // "redis://127.0.0.1:6379"
 * const a = createHub({ store: redisStore({ redis, max: 1_000 }) });
 * const b = createHub({ store: redisStore({ redis, max: 1_000 }) });
 * const first = await a.publish("news", { data: "one" });
 * await a.publish("news", { data: "two" });
 * // A client that saw "one" on a resumes on b.
 * for await (const event of b.subscribe("news", { lastEventId: first })) {
 *   assert.equal(event.data, "two");
 *   break;
 * }
 * await Promise.all([a.close(), b.close()]);
 * ```
 *
 * @example On a Redis Cluster: topics spread over its masters by key slot
 * ```ts
 * import type { RedisStoreOptions } from "@ssekit/ssekit/redis";
 *
 * // For createHub({ store: redisStore(options) }); any node finds the rest.
 * const options: RedisStoreOptions = { cluster: ["redis://10.0.0.1:7000"] };
 * ```
 *
 * (Over ~150 lines: half of it is the public options' documentation; the
 * store's parts live in `redis/`: the client and its scripts, the entry
 * codec, the tail and its connections, the relay leases.)
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
import { callHook, checkHookOptions, type SSEHookOptions } from "./hooks.ts";
import { FairSlots } from "./redis/_fair_slots.ts";
import { Tail } from "./redis/_tail.ts";
import { openClient } from "./redis/_client.ts";
import { checkTopic, toEntry, toFields, validId } from "./redis/_entries.ts";
import { leaseMethods } from "./redis/_leases.ts";
import { subscriberOptions, tailRoutes } from "./redis/_subscribers.ts";

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
 * How a tail whose connection broke reconnects: after `attempts` failures in
 * a row it gives up and reports the last error to the hub, whose subscribers
 * then end and resume from history when they reconnect.
 *
 * @example Riding out a minute-long Redis failover
 * ```ts
 * import type { RedisReconnectOptions } from "@ssekit/ssekit/redis";
 *
 * const reconnect: RedisReconnectOptions = { attempts: 40, min: 100, max: 2_000 };
 * ```
 */
export interface RedisReconnectOptions {
  /** Failed connections in a row before the tail gives up. @default {20} */
  attempts?: number;
  /** The first delay in milliseconds; it doubles per failure. @default {50} */
  min?: number;
  /** The longest delay in milliseconds. @default {2000} */
  max?: number;
}

/**
 * An ioredis client (`new Redis(…)` or `new Cluster(…)`) or ioredis
 * connection options (`{ host, port, password, tls, db, … }`, see ioredis's
 * `RedisOptions`). Typed loosely so that this module's types do not depend
 * on ioredis's.
 *
 * @example Connection options
 * ```ts
 * import type { RedisConnection } from "@ssekit/ssekit/redis";
 *
 * const connection: RedisConnection = { host: "127.0.0.1", port: 6379, db: 2 };
 * ```
 */
export type RedisConnection = object;

/**
 * Options for {@linkcode redisStore}: the connection, the key prefix, the
 * history bounds and the tail's reconnection policy.
 *
 * @example A store on an existing client, with a short history
 * ```ts
 * import { Redis } from "ioredis";
 * import { createHub } from "@ssekit/ssekit";
 * import { redisStore, type RedisStoreOptions } from "@ssekit/ssekit/redis";
 *
 * const redis = new Redis(process.env.REDIS_URL ?? "redis://cache.internal:6379");
 * const options: RedisStoreOptions = {
 *   redis,
 *   prefix: "chat:sse:",
 *   max: 200,
 *   ttl: 60_000,
 * };
 * const hub = createHub({ store: redisStore(options) });
 * await hub.publish("room-7", { event: "typing", data: "ada" });
 * await hub.close();
 * await redis.quit(); // the store leaves the caller's client open
 * ```
 */
export interface RedisStoreOptions extends HubHistory, SSEHookOptions {
  /**
   * A `redis://` URL or ioredis options (the store creates the client, and
   * closes it), or an ioredis client (the caller keeps it, and closes it).
   * It carries appends and reads. One more connection, made like it and
   * closed by the store, carries the live tail of every topic this
   * instance follows: two connections however many topics there are.
   *
   * An ioredis `Cluster` client works too: see `cluster`.
   * @default {"redis://127.0.0.1:6379"}
   */
  redis?: string | RedisConnection;
  /**
   * A Redis Cluster's startup nodes (`redis://` URLs or `{ host, port }`),
   * instead of `redis`: the store creates an ioredis `Cluster` client with
   * `clusterOptions`, and closes it. Topics spread over the masters by the
   * hash slot of their keys. The client carries appends and reads (one
   * connection per node it talks to); one more connection per master that
   * serves a tailed topic carries the live tail of those topics, and
   * follows them when a failover or a resharding moves their slot.
   */
  cluster?: readonly (string | RedisConnection)[];
  /**
   * ioredis `ClusterOptions` for `cluster` (`{ redisOptions: { password,
   * tls } }`, …).
   */
  clusterOptions?: RedisConnection;
  /**
   * Prepended to each topic's keys, `<prefix>{t:<topic>}` (its stream and
   * shard channel) and `<prefix>{t:<topic>}:m` (its floor and publish
   * tokens); no braces, which would change the keys' hash slot.
   * @default {"ssekit:"}
   */
  prefix?: string;
  /** How the tail reconnects after losing its connection. */
  reconnect?: RedisReconnectOptions;
}

/**
 * Appends awaiting their reply at once, and so the slots a store's tokens
 * take in a topic's hash: append n writes slot n mod IN_FLIGHT, which no
 * append still in flight shares, so a resent append finds its own token
 * there, and a topic never holds more than this many tokens per store.
 */
const IN_FLIGHT = 64;

/** A random name for this store's publish tokens. */
function instanceName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * A {@linkcode HubStore} on Redis Streams (Redis ≥ 7), one stream per topic
 * at `<prefix>{t:<topic>}`, on two connections however many topics an
 * instance serves (on a Redis Cluster, where topics spread over the masters
 * by key slot: the cluster client's, and one per master):
 *
 * - **Ids are stream ids** (`<ms>-<seq>`), compared numerically, so an id
 *   from any instance resumes on any other.
 * - **Append** is one atomic script: `XADD`, exact trimming to `max`
 *   entries and `ttl` (Redis's clock) that records the newest id it
 *   trimmed, `PEXPIRE` (a topic left alone for `ttl` costs nothing), and
 *   `SPUBLISH` of the entry on the stream's shard channel. It carries a
 *   token, so an append that the client resends after a lost reply is
 *   stored once and answers the first id.
 * - **Read** is `XRANGE (id + COUNT` in a script that reports a gap for any
 *   id after which an entry is no longer kept: trimmed, expired, from
 *   before a restart that lost the data, from another store, malformed.
 * - **Tail**: one subscriber connection `SSUBSCRIBE`s the channel of every
 *   topic this instance follows: joining and leaving is one command, and a
 *   busy topic cannot hold back a quiet one's events. When the connection
 *   drops (`CLIENT KILL`, a restart), it reconnects with exponential
 *   backoff and each topic reads what it missed from its stream, after the
 *   last id it delivered: no loss and no duplicate while history covers
 *   the break, a `gap` (a reset event to subscribers) when it does not.
 *   After `reconnect.attempts` failures in a row it gives up, and the hub
 *   ends the topics' subscriptions.
 * - **Cluster**: a topic's keys share one hash tag, so its scripts run on
 *   the master that serves its slot, and the tail subscribes each topic on
 *   that master's connection. When the slot moves (a failover, a
 *   resharding), the node drops the subscription or the connection, and
 *   the topic subscribes again where the slot is served now, then catches
 *   up from its stream as after a reconnect.
 *
 * @example A hub on Redis
 * ```ts
 * import { createHub } from "@ssekit/ssekit";
 * import { redisStore } from "@ssekit/ssekit/redis";
 *
 * const hub = createHub({
 *   store: redisStore({ redis: process.env.REDIS_URL, ttl: 10 * 60_000 }),
 * });
 * await hub.publish("news", { event: "headline", data: "Hello" });
 * await hub.close(); // closes the connections the store made
 * ```
 *
 * @param options The connection, key prefix, history bounds (defaults:
 * {@linkcode DEFAULT_HISTORY}) and reconnection policy.
 * @returns A store for {@linkcode createHub}.
 * @throws {RangeError} When a history bound or reconnect option is out of
 * range.
 * @throws {TypeError} When `redis`, `cluster` or `prefix` is of the wrong
 * type, or both `redis` and `cluster` are given.
 */
export function redisStore(options: RedisStoreOptions = {}): HubStore {
  const { max, ttl } = historyBounds(options, "redisStore", "");
  const { prefix = "ssekit:" } = options;
  checkOption(
    typeof prefix === "string" && !/[{}]/.test(prefix),
    "redisStore",
    "prefix",
    'a string without "{" or "}"',
    prefix,
  );
  const ttlArg = ttl === Infinity ? "" : Math.ceil(ttl);
  const subscriber = subscriberOptions(options);
  // Its hooks: onReconnect for the tail's connections, onTailLag.
  checkHookOptions(options, "redisStore");
  const { hooks, logger } = options;
  const { client, owned } = openClient(options);

  const stream = (topic: string) => `${prefix}{t:${topic}}`;
  const meta = (key: string) => `${key}:m`;
  const registry = `${prefix}{relays}`;
  const readKey = async (
    key: string,
    afterId: string,
    limit: number,
  ): Promise<HubReadResult> => {
    const after = typeof afterId === "string" && validId(afterId)
      ? afterId
      : "";
    const [gap, cursor, raw, end, absent] = await client.ssekitRead(
      key,
      meta(key),
      after,
      Math.max(1, limit),
      ttlArg,
    );
    const entries = raw.map(([id, fields]) => toEntry(id, fields));
    const result = {
      entries,
      gap: gap === 1,
      cursor: entries.length > 0 ? entries[entries.length - 1].id : cursor,
    };
    const ended = end ? { ...result, end } : result;
    return absent === 1 ? { ...ended, absent: true } : ended;
  };

  const tail = new Tail({
    ...tailRoutes(client, subscriber),
    read: readKey,
    last: (key) => client.ssekitLast(key),
    parse: (message) => {
      const [id, ...fields] = JSON.parse(message) as string[];
      return toEntry(id, fields);
    },
    // The id's first part is Redis's clock at the append, in ms.
    lag: hooks?.onTailLag && ((key, id) =>
      callHook(hooks, "onTailLag", {
        topic: key,
        lag: Date.now() - parseInt(id, 10),
      }, logger)),
  });

  // Publish tokens: this store's name and a count, kept in the topic's
  // hash at slot count mod IN_FLIGHT. The count goes up by one per append,
  // and at most IN_FLIGHT appends wait for a reply at once.
  const name = instanceName();
  let count = 0;
  const slots = new FairSlots(IN_FLIGHT);
  let closed = false;

  return {
    async append(topic, record) {
      if (closed) throw storeClosed("Redis");
      checkTopic(topic);
      const fields = toFields(record);
      // A topic's appends wait their turn behind each other, not in front
      // of other topics' (see FairSlots).
      const turn = slots.take(topic);
      if (turn) await turn;
      const n = ++count;
      try {
        const key = stream(topic);
        return await client.ssekitAppend(
          key,
          meta(key),
          max,
          ttlArg,
          `${name}:${n % IN_FLIGHT}`,
          n,
          record.end ? "1" : "",
          "",
          ...fields,
        );
      } catch (error) {
        if (!String((error as Error)?.message).startsWith("ENDED")) throw error;
        throw topicEnded(topic);
      } finally {
        slots.release();
      }
    },

    read(topic, afterId, limit): Promise<HubReadResult> {
      if (closed) throw storeClosed("Redis");
      checkTopic(topic);
      return readKey(stream(topic), afterId, limit);
    },

    async tail(topic, handler, signal) {
      if (closed) throw storeClosed("Redis");
      checkTopic(topic);
      if (signal.aborted) return;
      await tail.add(stream(topic), handler, signal);
    },

    compare: compareStreamIds,

    ...leaseMethods({ client, stream, meta, registry, max, ttl: ttlArg }),

    async close() {
      if (closed) return;
      closed = true;
      tail.close();
      if (owned) await client.quit().catch(() => client.disconnect());
    },
  };
}
