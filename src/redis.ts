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
 * @module
 */

import {
  Cluster,
  type ClusterOptions,
  Redis,
  type RedisOptions,
} from "ioredis";
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
  topicEnded,
} from "./store.ts";
import { checkOption, isCount, isObject } from "./_checks.ts";
import { callHook, checkHookOptions, type SSEHookOptions } from "./hooks.ts";
import {
  ABORT_SCRIPT,
  APPEND_SCRIPT,
  DUE_SCRIPT,
  LAST_SCRIPT,
  LEASE_SCRIPT,
  READ_SCRIPT,
  RELEASE_SCRIPT,
} from "./redis/_scripts.ts";
import { FairSlots } from "./redis/_fair_slots.ts";
import { keySlot, Tail, type TailStore } from "./redis/_tail.ts";

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

const DEFAULT_RECONNECT: Required<RedisReconnectOptions> = {
  attempts: 20,
  min: 50,
  max: 2_000,
};
const MAX_TOPIC_LENGTH = 1_024;
const ID = /^(0|[1-9][0-9]*)-(0|[1-9][0-9]*)$/;
const MAX_ID_PART = "18446744073709551615"; // Redis ids are two u64s.
/** Redis rejects an entry without fields; this one stands for "none". */
const EMPTY_FIELD = "_";
/**
 * Appends awaiting their reply at once, and so the slots a store's tokens
 * take in a topic's hash: append n writes slot n mod IN_FLIGHT, which no
 * append still in flight shares, so a resent append finds its own token
 * there, and a topic never holds more than this many tokens per store.
 */
const IN_FLIGHT = 64;

type RawEntry = [id: string, fields: string[]];

interface StoreCommands {
  ssekitRead(
    stream: string,
    meta: string,
    after: string,
    limit: number,
    ttl: number | "",
  ): Promise<
    [
      gap: number,
      cursor: string,
      entries: RawEntry[],
      end: string | null,
      absent: number,
    ]
  >;
  ssekitLast(stream: string): Promise<string>;
  ssekitAppend(
    stream: string,
    meta: string,
    ...args: (string | number)[]
  ): Promise<string>;
  ssekitLease(
    stream: string,
    meta: string,
    holder: string,
    ms: number,
  ): Promise<[state: HubLeaseState, expiry: number]>;
  ssekitRelease(stream: string, meta: string, holder: string): Promise<number>;
  ssekitAbort(stream: string, meta: string): Promise<number>;
  ssekitDue(registry: string): Promise<string[]>;
}

type StoreClient = (Redis | Cluster) & StoreCommands;

function isClient(value: unknown): value is Redis | Cluster {
  return typeof (value as Redis)?.duplicate === "function" &&
    typeof (value as Redis)?.xadd === "function";
}

function isCluster(value: Redis | Cluster): value is Cluster {
  return (value as Cluster).isCluster === true;
}

function validId(id: string): boolean {
  const match = ID.exec(id);
  return match !== null &&
    match.slice(1).every((part) =>
      part.length < MAX_ID_PART.length ||
      (part.length === MAX_ID_PART.length && part <= MAX_ID_PART)
    );
}

function checkTopic(topic: unknown): asserts topic is string {
  if (
    typeof topic !== "string" || topic === "" ||
    topic.length > MAX_TOPIC_LENGTH || /[\uD800-\uDFFF]/u.test(topic)
  ) {
    throw new TypeError(
      `Invalid topic for redisStore: expected a non-empty string of at most ${MAX_TOPIC_LENGTH} characters without lone surrogates (two such topics would share a key), got ${
        typeof topic === "string" ? `${topic.length} characters` : typeof topic
      }`,
    );
  }
}

function toFields(record: HubRecord): string[] {
  const fields: string[] = [];
  if (record.event !== undefined) fields.push("event", record.event);
  if (record.data !== undefined) fields.push("data", record.data);
  if (record.retry !== undefined) fields.push("retry", String(record.retry));
  if (record.comment !== undefined) fields.push("comment", record.comment);
  if (record.end) fields.push("end", "1");
  return fields.length > 0 ? fields : [EMPTY_FIELD, ""];
}

function toEntry(id: string, fields: readonly string[], from = 0): HubEntry {
  const entry: { -readonly [K in keyof HubEntry]: HubEntry[K] } = { id };
  for (let i = from; i < fields.length; i += 2) {
    const value = fields[i + 1];
    switch (fields[i]) {
      case "event":
        entry.event = value;
        break;
      case "data":
        entry.data = value;
        break;
      case "retry":
        entry.retry = Number(value);
        break;
      case "comment":
        entry.comment = value;
        break;
      case "end":
        entry.end = true;
        break;
    }
  }
  return Object.freeze(entry);
}

function clusterNodes(
  options: RedisStoreOptions,
): (string | RedisConnection)[] | undefined {
  const { cluster, clusterOptions } = options;
  if (cluster === undefined) {
    checkOption(
      clusterOptions === undefined,
      "redisStore",
      "clusterOptions",
      'nothing without "cluster" (the startup nodes)',
      clusterOptions,
    );
    return undefined;
  }
  checkOption(
    Array.isArray(cluster) && cluster.length > 0 &&
      cluster.every((node) => typeof node === "string" || isObject(node)),
    "redisStore",
    "cluster",
    "a non-empty array of redis:// URLs or { host, port } objects",
    cluster,
  );
  checkOption(
    options.redis === undefined,
    "redisStore",
    "redis",
    'nothing with "cluster" (pass a Cluster client as "redis", or the startup nodes as "cluster")',
    options.redis,
  );
  checkOption(
    clusterOptions === undefined || isObject(clusterOptions),
    "redisStore",
    "clusterOptions",
    "ioredis ClusterOptions",
    clusterOptions,
  );
  return [...cluster];
}

function newCluster(
  nodes: (string | RedisConnection)[],
  options: ClusterOptions,
): Cluster {
  return new Cluster(nodes as ConstructorParameters<typeof Cluster>[0], {
    ...options,
    redisOptions: { connectionName: "ssekit", ...options.redisOptions },
  });
}

/**
 * Where the tail subscribes: the one Redis, or on a cluster the master that
 * serves each topic's slot, as the client's slot table says.
 */
function tailRoutes(
  base: Redis | Cluster,
  subscriber: Partial<RedisOptions>,
): Pick<TailStore, "route" | "connect" | "refresh"> {
  // The tail learns of failures through its connections' events.
  const quiet = (connection: Redis) => connection.on("error", () => {});
  if (!isCluster(base)) {
    return {
      route: () => "",
      connect: () => quiet(base.duplicate(subscriber)),
      refresh: () => Promise.resolve(),
    };
  }
  return {
    route: (key) => base.slots[keySlot(key)]?.[0],
    connect: (node) => {
      const colon = node.lastIndexOf(":");
      return quiet(
        new Redis({
          ...base.options.redisOptions,
          host: node.slice(0, colon),
          port: Number(node.slice(colon + 1)),
          ...subscriber,
        }),
      );
    },
    refresh: () =>
      new Promise((resolve) => base.refreshSlotsCache(() => resolve())),
  };
}

function positiveInteger(value: number, name: string): number {
  checkOption(
    isCount(value, 1),
    "redisStore",
    `reconnect.${name}`,
    "a safe integer ≥ 1",
    value,
    RangeError,
  );
  return value;
}

function storeClosed(): TypeError {
  return new TypeError(
    "The Redis store is closed: append(), read() and tail() are not allowed after close()",
  );
}

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
  const reconnect = { ...DEFAULT_RECONNECT, ...options.reconnect };
  const attempts = positiveInteger(reconnect.attempts, "attempts");
  const minDelay = positiveInteger(reconnect.min, "min");
  const maxDelay = Math.max(minDelay, positiveInteger(reconnect.max, "max"));
  const ttlArg = ttl === Infinity ? "" : Math.ceil(ttl);
  // Its hooks: onReconnect for the tail's connections, onTailLag.
  checkHookOptions(options, "redisStore");
  const { hooks, logger } = options;

  const given = options.redis ?? "redis://127.0.0.1:6379";
  checkOption(
    typeof given === "string" || isObject(given),
    "redisStore",
    "redis",
    "a URL, ioredis options or an ioredis client",
    given,
  );
  const nodes = clusterNodes(options);
  const owned = nodes !== undefined || !isClient(given);
  // Named, so an operator sees which connections are ssekit's.
  const base: Redis | Cluster = nodes !== undefined
    ? newCluster(nodes, options.clusterOptions ?? {})
    : isClient(given)
    ? given
    : typeof given === "string"
    ? new Redis(given, { connectionName: "ssekit" })
    : new Redis({ connectionName: "ssekit", ...given as RedisOptions });
  // Our own clients report failures through their commands' rejections.
  if (owned) base.on("error", () => {});
  const client = base as StoreClient;
  client.defineCommand("ssekitRead", { numberOfKeys: 2, lua: READ_SCRIPT });
  client.defineCommand("ssekitLast", { numberOfKeys: 1, lua: LAST_SCRIPT });
  client.defineCommand("ssekitAppend", {
    numberOfKeys: 2,
    lua: APPEND_SCRIPT,
  });
  client.defineCommand("ssekitLease", { numberOfKeys: 2, lua: LEASE_SCRIPT });
  client.defineCommand("ssekitRelease", {
    numberOfKeys: 2,
    lua: RELEASE_SCRIPT,
  });
  client.defineCommand("ssekitAbort", { numberOfKeys: 2, lua: ABORT_SCRIPT });
  client.defineCommand("ssekitDue", { numberOfKeys: 1, lua: DUE_SCRIPT });

  const stream = (topic: string) => `${prefix}{t:${topic}}`;
  const meta = (key: string) => `${key}:m`;
  // The topics whose relay runs hold leases, by expiry: how a run whose
  // instance died is found. One key (one slot); the topics' own hashes
  // say whether a lease is really due.
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

  // A tail connection reconnects itself and its topics catch up after;
  // it gives up (and fails its topics) after `attempts` failures.
  const subscriber: Partial<RedisOptions> = {
    connectionName: "ssekit-tail",
    autoResubscribe: false,
    lazyConnect: false,
    retryStrategy: (times: number) => {
      if (times > attempts) return null;
      const delay = Math.min(maxDelay, minDelay * 2 ** (times - 1));
      if (hooks) {
        callHook(hooks, "onReconnect", {
          where: "store",
          attempt: times,
          delay,
        }, logger);
      }
      return delay;
    },
  };
  const tail = new Tail({
    ...tailRoutes(base, subscriber),
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
      if (closed) throw storeClosed();
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
      if (closed) throw storeClosed();
      checkTopic(topic);
      return readKey(stream(topic), afterId, limit);
    },

    async tail(topic, handler, signal) {
      if (closed) throw storeClosed();
      checkTopic(topic);
      if (signal.aborted) return;
      await tail.add(stream(topic), handler, signal);
    },

    compare: compareStreamIds,

    async lease(topic, holder, ms) {
      checkTopic(topic);
      const key = stream(topic);
      const [state, expiry] = await client.ssekitLease(
        key,
        meta(key),
        holder,
        ms,
      );
      if (state === "ok") await client.zadd(registry, expiry, topic);
      return state;
    },

    async release(topic, holder) {
      checkTopic(topic);
      const key = stream(topic);
      await client.ssekitRelease(key, meta(key), holder);
      await client.zrem(registry, topic);
    },

    async requestAbort(topic) {
      checkTopic(topic);
      const key = stream(topic);
      return (await client.ssekitAbort(key, meta(key))) === 1;
    },

    async reap(record) {
      let reaped = 0;
      for (const topic of await client.ssekitDue(registry)) {
        const key = stream(topic);
        try {
          await client.ssekitAppend(
            key,
            meta(key),
            max,
            ttlArg,
            "",
            0,
            "1",
            "1",
            ...toFields({ ...record, end: true }),
          );
          reaped++;
        } catch (error) {
          // Renewed meanwhile: its next renewal moves it in the registry.
          if (String((error as Error)?.message).startsWith("LEASED")) {
            const alive = await client.hexists(meta(key), "h");
            if (alive) continue;
          } else if (!String((error as Error)?.message).startsWith("ENDED")) {
            throw error;
          }
        }
        await client.zrem(registry, topic);
      }
      return reaped;
    },

    async close() {
      if (closed) return;
      closed = true;
      tail.close();
      if (owned) await base.quit().catch(() => base.disconnect());
    },
  };
}
