/**
 * The Redis store's command client (internal to `ssekit/redis`): made from
 * the `redis` or `cluster` option, or the caller's own, with the store's
 * scripts defined on it as commands. (Over ~150 lines by the commands'
 * typed signatures.)
 *
 * @module
 */

import {
  Cluster,
  type ClusterOptions,
  Redis,
  type RedisOptions,
} from "ioredis";
import type { HubLeaseState } from "../store.ts";
import { checkOption, isObject } from "../_checks.ts";
import type { RedisConnection, RedisStoreOptions } from "../redis.ts";
import type { RawEntry } from "./_entries.ts";
import {
  ABORT_SCRIPT,
  APPEND_SCRIPT,
  DUE_SCRIPT,
  LAST_SCRIPT,
  LEASE_SCRIPT,
  READ_SCRIPT,
  RELEASE_SCRIPT,
} from "./_scripts.ts";

/** The scripts of `_scripts.ts`, as commands on the client. */
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

/** An ioredis client with the store's commands. */
export type StoreClient = (Redis | Cluster) & StoreCommands;

/** The store's command client, and whether the store made it (and closes it). */
export interface OpenedClient {
  client: StoreClient;
  owned: boolean;
}

function isClient(value: unknown): value is Redis | Cluster {
  return typeof (value as Redis)?.duplicate === "function" &&
    typeof (value as Redis)?.xadd === "function";
}

/** Whether `value` is a Redis Cluster client. */
export function isCluster(value: Redis | Cluster): value is Cluster {
  return (value as Cluster).isCluster === true;
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
 * The client that `options` ask for, with the store's commands.
 *
 * @throws {TypeError} When `redis`, `cluster` or `clusterOptions` is of the
 * wrong type, or both `redis` and `cluster` are given.
 */
export function openClient(options: RedisStoreOptions): OpenedClient {
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
  return { client, owned };
}
