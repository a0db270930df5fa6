/**
 * How the Redis store's tail (internal to `ssekit/redis`) makes its
 * subscriber connections: where each topic's connection goes (the one
 * Redis, or the master that serves the topic's slot) and how a connection
 * that broke reconnects (the `reconnect` option).
 *
 * @module
 */

import { type Cluster, Redis, type RedisOptions } from "ioredis";
import { checkOption, isCount } from "../_checks.ts";
import { callHook } from "../hooks.ts";
import type { RedisStoreOptions } from "../redis.ts";
import { isCluster } from "./_client.ts";
import { keySlot, type TailStore } from "./_tail.ts";

const DEFAULT_RECONNECT = { attempts: 20, min: 50, max: 2_000 };

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

/**
 * The options of every subscriber connection: a connection reconnects
 * itself (and its topics catch up after), with exponential backoff, and
 * gives up (failing its topics) after `reconnect.attempts` failures.
 *
 * @throws {RangeError} When a `reconnect` option is not a safe integer ≥ 1.
 */
export function subscriberOptions(
  options: RedisStoreOptions,
): Partial<RedisOptions> {
  const reconnect = { ...DEFAULT_RECONNECT, ...options.reconnect };
  const attempts = positiveInteger(reconnect.attempts, "attempts");
  const minDelay = positiveInteger(reconnect.min, "min");
  const maxDelay = Math.max(minDelay, positiveInteger(reconnect.max, "max"));
  const { hooks, logger } = options;
  return {
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
}

/**
 * Where the tail subscribes: the one Redis, or on a cluster the master that
 * serves each topic's slot, as the client's slot table says.
 */
export function tailRoutes(
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
