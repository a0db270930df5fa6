/**
 * {@linkcode redisStore}: a {@linkcode HubStore} on Redis Streams, so hubs on
 * several servers (or runtimes) share one history and one id sequence per
 * topic, and a client resumes with its `Last-Event-ID` on any of them.
 *
 * It needs the `ioredis` package (an optional peer dependency of ssekit);
 * nothing else in ssekit imports it.
 *
 * @example Two instances sharing one Redis
 * ```ts ignore
 * import { createHub } from "@ssekit/ssekit";
 * import { redisStore } from "@ssekit/ssekit/redis";
 *
 * const hub = createHub({
 *   store: redisStore({ redis: "redis://127.0.0.1:6379", max: 1_000 }),
 * });
 * Deno.serve((request) => hub.response(request, "news"));
 * ```
 *
 * @module
 */

import { Redis, type RedisOptions } from "ioredis";
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
import { describe } from "./describe.ts";

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
 * An ioredis client (`new Redis(…)`) or ioredis connection options
 * (`{ host, port, password, tls, db, … }`, see ioredis's `RedisOptions`).
 * Typed loosely so that this module's types do not depend on ioredis's.
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
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import { redisStore, type RedisStoreOptions } from "@ssekit/ssekit/redis";
 *
 * const options: RedisStoreOptions = {
 *   redis: new Redis("redis://cache.internal:6379"),
 *   prefix: "chat:sse:",
 *   max: 200,
 *   ttl: 60_000,
 * };
 * const store = redisStore(options);
 * ```
 */
export interface RedisStoreOptions extends HubHistory {
  /**
   * A `redis://` URL or ioredis options (the store creates the client, and
   * closes it), or an ioredis client (the caller keeps it, and closes it).
   * Either way each tailed topic gets a dedicated connection of its own,
   * made like this one and closed by the store, because a blocking `XREAD`
   * occupies its connection. @default {"redis://127.0.0.1:6379"}
   */
  redis?: string | RedisConnection;
  /** Prepended to each topic to make its stream's key. @default {"ssekit:"} */
  prefix?: string;
  /** How tails reconnect after losing their connection. */
  reconnect?: RedisReconnectOptions;
}

const DEFAULT_RECONNECT: Required<RedisReconnectOptions> = {
  attempts: 20,
  min: 50,
  max: 2_000,
};
/** Long enough to be cheap, short enough to notice a dead peer in time. */
const BLOCK_MS = 10_000;
const TAIL_COUNT = 1_000;
const MAX_TOPIC_LENGTH = 1_024;
const ID = /^(0|[1-9][0-9]*)-(0|[1-9][0-9]*)$/;
const MAX_ID_PART = "18446744073709551615"; // Redis ids are two u64s.
/** Redis rejects an entry without fields; this one stands for "none". */
const EMPTY_FIELD = "_";

// Both scripts run atomically, so a trim between looking at the stream and
// reading it cannot hide a gap. Positions are the kept entries' ids and the
// newest trimmed id (max-deleted-entry-id, 0-0 before any trim): any other
// id, even one in range, was never an entry of this stream (another store,
// or the stream's life before a restart without persistence).
const STREAM_IDS = `
local function streamIds(key)
  local last, floor = '0-0', '0-0'
  if redis.call('EXISTS', key) == 1 then
    local info = redis.call('XINFO', 'STREAM', key)
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then last = info[i + 1]
      elseif info[i] == 'max-deleted-entry-id' then floor = info[i + 1] end
    end
  end
  return last, floor
end
`;

/** KEYS[1]: the stream; ARGV: a valid id or "", the limit. */
const READ_SCRIPT = STREAM_IDS + `
local key, after, limit = KEYS[1], ARGV[1], ARGV[2]
local last, floor = streamIds(key)
local gap = after == '' or
  (after ~= floor and #redis.call('XRANGE', key, after, after) == 0)
if gap then
  return {1, last, redis.call('XRANGE', key, '-', '+', 'COUNT', limit)}
end
return {0, last, redis.call('XRANGE', key, '(' .. after, '+', 'COUNT', limit)}
`;

/** KEYS[1]: the stream. Returns the id after which a tail starts. */
const LAST_SCRIPT = STREAM_IDS + `
local last = streamIds(KEYS[1])
return last
`;

/**
 * KEYS[1]: the stream; ARGV: max, ttl ("" for none), then field, value….
 * The ttl cutoff uses Redis's clock, the one its ids come from.
 */
const APPEND_SCRIPT = `
local key = KEYS[1]
local id = redis.call('XADD', key, 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 3))
if ARGV[2] ~= '' then
  local now = redis.call('TIME')
  local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[2])
  if cutoff > 0 then redis.call('XTRIM', key, 'MINID', '~', cutoff) end
end
return id
`;

type RawEntry = [id: string, fields: string[]];

interface StoreClient extends Redis {
  ssekitRead(
    key: string,
    after: string,
    limit: number,
  ): Promise<[gap: number, last: string, entries: RawEntry[]]>;
  ssekitLast(key: string): Promise<string>;
  ssekitAppend(key: string, ...args: (string | number)[]): Promise<string>;
}

function isClient(value: unknown): value is Redis {
  return typeof (value as Redis)?.duplicate === "function" &&
    typeof (value as Redis)?.xadd === "function";
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
  return fields.length > 0 ? fields : [EMPTY_FIELD, ""];
}

function toEntry([id, fields]: RawEntry): HubEntry {
  const entry: { -readonly [K in keyof HubEntry]: HubEntry[K] } = { id };
  for (let i = 0; i < fields.length; i += 2) {
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
    }
  }
  return Object.freeze(entry);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Invalid redisStore option "reconnect.${name}": expected a safe integer ≥ 1, got ${
        String(value)
      }`,
    );
  }
  return value;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

function storeClosed(): TypeError {
  return new TypeError(
    "The Redis store is closed: append(), read() and tail() are not allowed after close()",
  );
}

/**
 * A {@linkcode HubStore} on Redis Streams (Redis ≥ 7), one stream per topic
 * at `prefix + topic`:
 *
 * - **Ids are stream ids** (`<ms>-<seq>`), compared numerically, so an id
 *   from any instance resumes on any other.
 * - **Append** is one atomic script: `XADD … MAXLEN ~ max` and
 *   `XTRIM … MINID ~ now-ttl` (Redis's clock). Trimming is approximate, as
 *   Redis does it cheaply: a topic may keep somewhat more than `max` events
 *   (up to a stream node, 100 by default) or events a little past `ttl`,
 *   and an idle topic is trimmed at its next append.
 * - **Read** is `XRANGE (id + COUNT`, in a script that also reports a gap
 *   for an id that is not a kept entry's or the newest trimmed one, is
 *   malformed or in the future, or comes from before a restart of a Redis
 *   without persistence.
 * - **Tail**: each tailed topic has a dedicated connection running
 *   `XREAD BLOCK … STREAMS key <last id>`. When the connection drops
 *   (`CLIENT KILL`, a Redis restart), it reconnects with exponential
 *   backoff and resumes after the last id it delivered: no loss, no
 *   duplicates. After `reconnect.attempts` failures in a row it reports
 *   the error to the hub, which ends the topic's subscriptions.
 *
 * @example A hub on Redis
 * ```ts ignore
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
 * @throws {TypeError} When `redis` or `prefix` is of the wrong type.
 */
export function redisStore(options: RedisStoreOptions = {}): HubStore {
  const { max, ttl } = historyBounds(options);
  const { prefix = "ssekit:" } = options;
  if (typeof prefix !== "string") {
    throw new TypeError(
      `Invalid redisStore option "prefix": expected a string, got ${typeof prefix}`,
    );
  }
  const reconnect = { ...DEFAULT_RECONNECT, ...options.reconnect };
  const attempts = positiveInteger(reconnect.attempts, "attempts");
  const minDelay = positiveInteger(reconnect.min, "min");
  const maxDelay = Math.max(minDelay, positiveInteger(reconnect.max, "max"));

  const given = options.redis ?? "redis://127.0.0.1:6379";
  if (typeof given !== "string" && (typeof given !== "object" || !given)) {
    throw new TypeError(
      `Invalid redisStore option "redis": expected a URL, ioredis options or an ioredis client, got ${
        describe(given)
      }`,
    );
  }
  const owned = !isClient(given);
  const base: Redis = isClient(given)
    ? given
    : typeof given === "string"
    ? new Redis(given)
    : new Redis(given as RedisOptions);
  // Our own clients report failures through their commands' rejections.
  if (owned) base.on("error", () => {});
  const client = base as StoreClient;
  client.defineCommand("ssekitRead", { numberOfKeys: 1, lua: READ_SCRIPT });
  client.defineCommand("ssekitLast", { numberOfKeys: 1, lua: LAST_SCRIPT });
  client.defineCommand("ssekitAppend", {
    numberOfKeys: 1,
    lua: APPEND_SCRIPT,
  });

  const stopAll = new AbortController();
  let closed = false;

  // Connects a fresh dedicated connection that never reconnects by itself:
  // the tail loop decides when and from which id to go on.
  const connectTail = async (): Promise<Redis> => {
    const connection = base.duplicate({
      lazyConnect: true,
      retryStrategy: () => null,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: BLOCK_MS + 5_000,
      connectionName: "ssekit-tail",
    });
    connection.on("error", () => {});
    try {
      await connection.connect();
      return connection;
    } catch (error) {
      connection.disconnect();
      throw error;
    }
  };

  const runTail = async (
    key: string,
    startId: string,
    handler: HubTailHandler,
    signal: AbortSignal,
  ): Promise<void> => {
    let lastId = startId;
    let failures = 0;
    let connection: Redis | undefined;
    const hangUp = () => connection?.disconnect();
    signal.addEventListener("abort", hangUp);
    try {
      while (!signal.aborted) {
        try {
          connection ??= await connectTail();
          if (signal.aborted) break;
          const reply = await connection.xread(
            "COUNT",
            TAIL_COUNT,
            "BLOCK",
            BLOCK_MS,
            "STREAMS",
            key,
            lastId,
          ) as [string, RawEntry[]][] | null;
          failures = 0;
          if (signal.aborted) break;
          for (const raw of reply?.[0][1] ?? []) {
            lastId = raw[0];
            handler.entry(toEntry(raw));
          }
        } catch (error) {
          if (signal.aborted) break;
          connection?.disconnect();
          connection = undefined;
          if (++failures >= attempts) {
            handler.error(error);
            return;
          }
          const delay = Math.min(maxDelay, minDelay * 2 ** (failures - 1));
          await pause(delay, signal);
        }
      }
    } finally {
      signal.removeEventListener("abort", hangUp);
      connection?.disconnect();
    }
  };

  return {
    append(topic, record) {
      if (closed) throw storeClosed();
      checkTopic(topic);
      return client.ssekitAppend(
        prefix + topic,
        max,
        ttl === Infinity ? "" : Math.ceil(ttl),
        ...toFields(record),
      );
    },

    async read(topic, afterId, limit): Promise<HubReadResult> {
      if (closed) throw storeClosed();
      checkTopic(topic);
      const after = typeof afterId === "string" && validId(afterId)
        ? afterId
        : "";
      const [gap, last, raw] = await client.ssekitRead(
        prefix + topic,
        after,
        Math.max(1, limit),
      );
      const entries = raw.map(toEntry);
      const cursor = entries.length > 0
        ? entries[entries.length - 1].id
        : gap
        ? last
        : after;
      return { entries, gap: gap === 1, cursor };
    },

    async tail(topic, handler, signal) {
      if (closed) throw storeClosed();
      checkTopic(topic);
      if (signal.aborted) return;
      const key = prefix + topic;
      const startId = await client.ssekitLast(key);
      if (signal.aborted || closed) return;
      const stop = AbortSignal.any([signal, stopAll.signal]);
      void runTail(key, startId, handler, stop);
    },

    compare: compareStreamIds,

    async close() {
      if (closed) return;
      closed = true;
      stopAll.abort();
      if (owned) await base.quit().catch(() => base.disconnect());
    },
  };
}
