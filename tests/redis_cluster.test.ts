// redisStore on a Redis Cluster this file starts (scripts/redis-cluster.mjs:
// three masters, a replica each, on 127.0.0.1): the HubStore contract,
// topics spread over the three masters with one tail connection per master
// however many topics, and masters failing over while publishers and
// resuming subscribers run: nothing lost, nothing twice, and a reset only
// where history could not cover.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Cluster, Redis } from "ioredis";
import {
  ensureRedisCluster,
  startRedisCluster,
} from "../scripts/redis-cluster.mjs";
import { createHub, type Hub } from "../src/hub.ts";
import { redisStore, type RedisStoreOptions } from "../src/redis.ts";
import { keySlot } from "../src/redis/_tail.ts";
import { checkExact, clients, follow, publishing } from "./support/loss.ts";
import { storeContract } from "./support/store_contract.ts";
import { sleep, until, within } from "./support/time.ts";

type RedisCluster = Awaited<ReturnType<typeof startRedisCluster>>;

let unavailable: string | undefined;
try {
  ensureRedisCluster();
} catch (error) {
  unavailable = `redis-server or redis-cli cannot be installed or run (${
    error instanceof Error ? error.message : String(error)
  })`;
}

let cluster: RedisCluster;
let prefixes = 0;

const url = () => `redis://127.0.0.1:${cluster.nodes[0].port}`;
const uniquePrefix = () =>
  `ssekit-test:cluster:${process.pid}:${Date.now()}:${++prefixes}:`;
const keyOf = (prefix: string, topic: string) => `${prefix}{t:${topic}}`;
const sum = (values: number[]) => values.reduce((total, n) => total + n, 0);

function store(options: RedisStoreOptions = {}) {
  return redisStore({ cluster: [url()], prefix: uniquePrefix(), ...options });
}

/** A connection to one node, for what only that node can say. */
function node(port: number): Redis {
  const redis = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  return redis;
}

/** How many connections named `name` each live node has, by port. */
async function named(name: string, ports: number[]): Promise<number[]> {
  return await Promise.all(ports.map(async (port) => {
    const redis = node(port);
    try {
      return (await clients(redis, name)).length;
    } finally {
      redis.disconnect();
    }
  }));
}

/** The port of the master that serves `key`, per CLUSTER SLOTS. */
async function masterOf(key: string): Promise<number> {
  const slot = keySlot(key);
  const redis = node(cluster.nodes[0].port);
  try {
    const ranges = await redis.call("CLUSTER", "SLOTS") as [
      number,
      number,
      [string, number],
    ][];
    const range = ranges.find(([from, to]) => from <= slot && slot <= to)!;
    return range[2][1];
  } finally {
    redis.disconnect();
  }
}

/** The ids of the next `count` events, each within a few seconds. */
async function take(
  sub: AsyncIterableIterator<{ id?: unknown; data?: unknown }>,
  count: number,
): Promise<string[]> {
  const data: string[] = [];
  while (data.length < count) {
    const { done, value } = await within(sub.next(), 10_000, "next event");
    if (done) break;
    data.push(String(value.data));
  }
  return data;
}

/**
 * Publishers on hub `b` and reconnecting subscribers on hub `a` on every
 * topic, with `disrupt` in the middle; then each subscriber must have got
 * exactly what was published after its id. Returns the resets per topic.
 */
async function midStream(
  pair: { a: Hub; b: Hub; compare: (x: string, y: string) => number },
  topics: string[],
  disrupt: () => Promise<void>,
): Promise<{ resets: number[]; errors: number; failures: number }> {
  const stop = new AbortController();
  const following = new AbortController();
  try {
    const starts = await Promise.all(
      topics.map((topic) => pair.b.publish(topic, "start")),
    );
    const followers = topics.map((topic, i) =>
      follow(pair.a, topic, starts[i], following.signal)
    );
    await sleep(100);
    const publishers = topics.map((topic) =>
      publishing(pair.b, topic, 100, stop.signal, `${topic}-`)
    );
    await sleep(500);
    await disrupt();
    await sleep(500);
    stop.abort();
    await Promise.all(publishers.map((publisher) => publisher.done));
    const resets = [];
    for (const [i, follower] of followers.entries()) {
      const { published, failed } = publishers[i];
      const last = [...published].sort(pair.compare).at(-1)!;
      await follower.reached(last, `the last event of ${topics[i]}`, 20_000);
      resets.push(
        checkExact(
          follower.seen,
          published,
          starts[i],
          pair.compare,
          (id) => failed.has(follower.data.get(id)!),
        ),
      );
    }
    return {
      resets,
      errors: sum(publishers.map((publisher) => publisher.errors())),
      failures: sum(followers.map((follower) => follower.failures())),
    };
  } finally {
    stop.abort();
    following.abort();
  }
}

function pairOn(prefix: string) {
  const stores = [0, 1].map(() =>
    redisStore({
      cluster: [url()],
      prefix,
      max: 10_000,
      reconnect: { attempts: 100, max: 200 },
    })
  );
  const [a, b] = stores.map((store) => createHub({ store }));
  return {
    a,
    b,
    compare: stores[0].compare,
    close: async () => void await Promise.all([a.close(), b.close()]),
  };
}

/** `count` topics, at least two served by each master. */
async function spread(prefix: string, count: number): Promise<string[]> {
  const topics = Array.from({ length: count }, (_, i) => `topic-${i}`);
  const owners = await Promise.all(
    topics.map((topic) => masterOf(keyOf(prefix, topic))),
  );
  for (const master of await cluster.masters()) {
    assert.ok(
      owners.filter((owner) => owner === master).length >= 2,
      `topics on ${master}: ${owners}`,
    );
  }
  return topics;
}

if (unavailable !== undefined) {
  if (process.env.CI === "true") {
    test("the Redis Cluster tests run under CI", () =>
      assert.fail(unavailable));
  } else {
    console.log(`redis_cluster.test.ts: skipped: ${unavailable}`);
  }
} else {
  describe("redisStore on a Redis Cluster", () => {
    before(async () => {
      cluster = await startRedisCluster();
    });

    after(async () => {
      await cluster?.stop();
    });

    storeContract("redisStore on a cluster", () => store({ max: 10 }), 10);

    test("rejects a cluster option it cannot use", () => {
      for (
        const cluster of [[], "redis://127.0.0.1:7000", [5], [
          null,
        ]] as unknown[]
      ) {
        assert.throws(
          () =>
            redisStore({
              cluster: cluster as RedisStoreOptions["cluster"],
            }),
          TypeError,
        );
      }
      assert.throws(
        () => redisStore({ redis: url(), cluster: [url()] }),
        { name: "TypeError", message: /^Invalid redisStore option "redis": / },
      );
      assert.throws(
        () => redisStore({ clusterOptions: {} }),
        {
          name: "TypeError",
          message:
            'Invalid redisStore option "clusterOptions": expected nothing without "cluster" (the startup nodes), got an object',
        },
      );
    });

    test("uses a given Cluster client without closing it", async () => {
      const client = new Cluster([cluster.nodes[0]]);
      const redis = redisStore({ redis: client, prefix: uniquePrefix() });
      const seen: string[] = [];
      const stop = new AbortController();
      await redis.tail("t", {
        entry: (entry) => void seen.push(entry.data!),
        gap: () => assert.fail("a gap"),
        error: (reason) => assert.fail(String(reason)),
      }, stop.signal);
      const id = await redis.append("t", { data: "x" });
      assert.deepEqual((await redis.read("t", "0-0", 10)).entries, [
        { id, data: "x" },
      ]);
      await until(() => seen.length, (n) => n > 0, "the tail");
      assert.deepEqual(seen, ["x"]);
      stop.abort();
      await redis.close();
      assert.equal(await client.set("ssekit-test:still", "open"), "OK");
      client.disconnect();
    });

    test("computes each key's slot as the cluster does", async () => {
      const redis = node(cluster.nodes[0].port);
      try {
        const keys = [
          "foo",
          "{user1000}.following",
          "a{}b",
          "a{b",
          "a}b{c}",
          ...["news", "ü", "😀", "a}b", "{x}", "x".repeat(1_024)].map((
            topic,
          ) => keyOf("ssekit:", topic)),
        ];
        for (const key of keys) {
          assert.equal(
            keySlot(key),
            await redis.call("CLUSTER", "KEYSLOT", key),
          );
        }
      } finally {
        redis.disconnect();
      }
    });

    test(
      "spreads topics over the three masters with one tail connection per master",
      {
        timeout: 30_000,
      },
      async () => {
        const prefix = uniquePrefix();
        const hub = createHub({
          store: redisStore({ cluster: [url()], prefix }),
        });
        try {
          const topics = await spread(prefix, 30);
          const subs = await Promise.all(topics.map(async (topic) => {
            const start = await hub.publish(topic, "start");
            return hub.subscribe(topic, { lastEventId: start });
          }));
          const reading = subs.map((sub) => take(sub, 1));
          for (const topic of topics) await hub.publish(topic, topic);
          assert.deepEqual(await Promise.all(reading), topics.map((t) => [t]));
          // Each master holds its topics' streams.
          const masters: number[] = await cluster.masters();
          const streams = await Promise.all(masters.map(async (port) => {
            const redis = node(port);
            try {
              return (await redis.keys(`${prefix}*`)).filter((key) =>
                !key.endsWith(":m")
              ).length;
            } finally {
              redis.disconnect();
            }
          }));
          assert.equal(sum(streams), 30);
          assert.ok(
            streams.every((n) => n >= 2),
            `streams per master ${streams}`,
          );
          // One tail connection per master, none on a replica.
          const ports = cluster.nodes.map((n) => n.port);
          const tails = await named("ssekit-tail", ports);
          assert.deepEqual(
            tails,
            ports.map((port) => masters.includes(port) ? 1 : 0),
            `tail connections per node ${ports} (masters ${masters})`,
          );
          const commands = await named("ssekit", ports);
          console.log(
            `connections for 30 topics: ${sum(tails)} tail (one per master), ${
              sum(commands)
            } command (per node: ${commands})`,
          );
          for (const sub of subs) await sub.return!();
        } finally {
          await hub.close();
        }
      },
    );

    test(
      "a failover of each master mid-stream: resuming subscribers lose nothing and see nothing twice",
      {
        timeout: 60_000,
      },
      async () => {
        const prefix = uniquePrefix();
        const pair = pairOn(prefix);
        try {
          const topics = await spread(prefix, 9);
          const ports = cluster.nodes.map((n) => n.port);
          const { resets, errors, failures } = await midStream(
            pair,
            topics,
            async () => {
              for (const master of await cluster.masters()) {
                await cluster.failover(master);
                await sleep(200);
              }
            },
          );
          // A coordinated failover hands over everything: no reset, and no
          // publish or subscription failed.
          assert.deepEqual(resets, topics.map(() => 0));
          assert.equal(errors, 0, "publishes failed");
          assert.equal(failures, 0, "subscriptions failed");
          // The tail followed the slots to the new masters.
          const masters: number[] = await cluster.masters();
          await until(
            () => named("ssekit-tail", ports),
            (tails) =>
              tails.every((n, i) => n === (masters.includes(ports[i]) ? 1 : 0)),
            `one tail connection on each master (${masters} of ${ports})`,
          );
        } finally {
          await pair.close();
        }
      },
    );

    test(
      "history that lost entries a subscriber got (a failover that lost writes) is a reset, not a repeat",
      {
        timeout: 30_000,
      },
      async () => {
        const prefix = uniquePrefix();
        const hub = createHub({
          store: redisStore({
            cluster: [url()],
            prefix,
            reconnect: { attempts: 100, max: 200 },
          }),
        });
        const key = keyOf(prefix, "t");
        const master = node(await masterOf(key));
        try {
          const start = await hub.publish("t", "start");
          const sub = hub.subscribe("t", { lastEventId: start });
          // One at a time, so they come live from the tail rather than from
          // the subscription's replay (which would hide a repeat).
          const ids: string[] = [];
          for (let i = 0; i < 5; i++) {
            ids.push(await hub.publish("t", `e${i}`));
            assert.deepEqual(await take(sub, 1), [`e${i}`]);
          }
          // The master's history goes back to e2, as a replica's would that
          // had not received e3 and e4 when it took over; the tail's
          // subscription breaks, as in a failover.
          const kept = await master.xrange(key, "-", ids[2]);
          await master.del(key, `${key}:m`);
          for (const [id, fields] of kept) {
            await master.xadd(key, id, ...fields);
          }
          for (const id of await clients(master, "ssekit-tail")) {
            await master.client("KILL", "ID", id);
          }
          await sleep(300);
          await hub.publish("t", "e5");
          assert.deepEqual(await take(sub, 2), ["history", "e5"]);
          await sub.return!();
        } finally {
          master.disconnect();
          await hub.close();
        }
      },
    );

    test(
      "a master killed mid-stream: its replica takes over, resuming subscribers lose nothing history kept and see nothing twice",
      {
        timeout: 60_000,
      },
      async () => {
        const prefix = uniquePrefix();
        const pair = pairOn(prefix);
        try {
          const topics = await spread(prefix, 6);
          const victim = await masterOf(keyOf(prefix, topics[0]));
          const owners = await Promise.all(
            topics.map((topic) => masterOf(keyOf(prefix, topic))),
          );
          let replaced = { from: 0, to: 0 };
          const { resets, failures } = await midStream(
            pair,
            topics,
            async () => {
              replaced = await cluster.kill(victim);
            },
          );
          // The tail followed the slots to the replica that took over, well
          // within its reconnection attempts: no subscription failed.
          assert.equal(failures, 0, "subscriptions failed");
          // Only the killed master's topics may have lost writes it had
          // published but not replicated: elsewhere, no reset.
          assert.deepEqual(
            resets.filter((_, i) => owners[i] !== victim),
            owners.filter((owner) => owner !== victim).map(() => 0),
          );
          const live = cluster.nodes.map((n) => n.port).filter((port) =>
            port !== replaced.from
          );
          const masters: number[] = await cluster.masters();
          await until(
            () => named("ssekit-tail", live),
            (tails) =>
              tails.every((n, i) => n === (masters.includes(live[i]) ? 1 : 0)),
            `one tail connection on each master (${masters} of ${live})`,
          );
        } finally {
          await pair.close();
        }
      },
    );
  });
}
