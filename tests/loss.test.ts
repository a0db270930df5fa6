// Issue 13's rule for every store: a subscriber gets exactly what followed
// its id, or an explicit reset; never a silent gap, never a duplicate. Each
// case that made the earlier Redis store lose or repeat events is here, run
// on every store, with the memory store as the control. A subscription that
// ends is a client that reconnects with the last id it got, as
// EventSource does.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { join } from "node:path";
import { Redis } from "ioredis";
import { createHub, type Hub, type HubOptions } from "../src/hub.ts";
import { memoryStore } from "../src/memory_store.ts";
import { redisStore } from "../src/redis.ts";
import type { HubStore } from "../src/store.ts";
import { root, spawnChild } from "./support/child.ts";
import { checkExact, clients, follow, publishing } from "./support/loss.ts";
import { sleep, within } from "./support/time.ts";

/** Two hubs on one store's data: the subscribers' and the publishers'. */
interface Pair {
  a: Hub;
  b: Hub;
  compare(x: string, y: string): number;
  close(): Promise<void>;
}

type MakePair = (history: { max: number }, url?: string) => Pair;

async function burstAcrossInstances(make: MakePair) {
  const pair = make({ max: 100 });
  const stop = new AbortController();
  try {
    const from = await pair.b.publish("t", "start");
    const follower = follow(pair.a, "t", from, stop.signal);
    await sleep(50);
    // Pipelined: 5,000 publishes without waiting for one.
    const published = await Promise.all(
      Array.from({ length: 5_000 }, (_, i) => pair.b.publish("t", `e${i}`)),
    );
    const last = published.at(-1)!;
    await follower.reached(last, "the last event of the burst", 20_000);
    checkExact(follower.seen, published, from, pair.compare);
  } finally {
    stop.abort();
    await pair.close();
  }
}

async function resetOnEmptyTopic(make: MakePair) {
  const pair = make({ max: 100 });
  try {
    const first = pair.a.subscribe("empty", { lastEventId: "nope" });
    const reset = await within(first.next(), 5_000, "the reset");
    await first.return!();
    assert.equal(reset.value?.event, "reset");
    const position = reset.value?.id;
    assert.equal(typeof position, "string", "the reset says where it is");
    for (let i = 0; i < 150; i++) await pair.b.publish("empty", `e${i}`);
    // 150 events into a history of 100: 50 were trimmed after the position.
    const again = pair.a.subscribe("empty", {
      lastEventId: String(position),
    });
    const next = await within(again.next(), 5_000, "the next event");
    await again.return!();
    assert.equal(next.value?.event, "reset", "a reset, not a silent gap");
  } finally {
    await pair.close();
  }
}

const url = process.env.SSEKIT_REDIS_URL;
let prefixes = 0;

function redisPair(history: { max: number }, at = url): Pair {
  const prefix = `ssekit-test:loss:${process.pid}:${Date.now()}:${++prefixes}:`;
  const stores: HubStore[] = [0, 1].map(() =>
    redisStore({
      redis: at,
      prefix,
      ...history,
      reconnect: { attempts: 100, max: 200 },
    })
  );
  const options: HubOptions = {};
  const [a, b] = stores.map((store) => createHub({ ...options, store }));
  return {
    a,
    b,
    compare: stores[0].compare,
    close: async () => void await Promise.all([a.close(), b.close()]),
  };
}

function memoryPair(history: { max: number }): Pair {
  const hub = createHub({ store: memoryStore(history) });
  return {
    a: hub,
    b: hub,
    compare: memoryStore().compare,
    close: () => hub.close(),
  };
}

const stores: [string, MakePair][] = [["memoryStore", memoryPair]];
if (url) stores.push(["redisStore", redisPair]);
else if (process.env.CI === "true") {
  test("the Redis loss tests run under CI", () =>
    assert.fail("SSEKIT_REDIS_URL is not set"));
}

for (const [name, make] of stores) {
  describe(`${name}: never a silent gap, never a duplicate`, () => {
    test("a burst on one instance larger than history, followed on another", {
      timeout: 60_000,
    }, () => burstAcrossInstances(make));

    test("the position a reset gives on an empty topic is one: resuming from it after trimming gets a reset", () =>
      resetOnEmptyTopic(make));
  });
}

if (url) {
  describe("redisStore under connection faults", () => {
    test(
      "tail connections killed 9 times while 3,000 events/s go into a history of 100",
      {
        timeout: 60_000,
      },
      async () => {
        const admin = new Redis(url);
        const pair = redisPair({ max: 100 });
        const stop = new AbortController();
        const following = new AbortController();
        try {
          const from = await pair.b.publish("t", "start");
          const follower = follow(pair.a, "t", from, following.signal);
          await sleep(50);
          const publisher = publishing(pair.b, "t", 3_000, stop.signal, "e");
          for (let kill = 0; kill < 9; kill++) {
            await sleep(200);
            for (const id of await clients(admin, "ssekit-tail")) {
              await admin.client("KILL", "ID", id);
            }
          }
          await sleep(200);
          stop.abort();
          await publisher.done;
          const last = [...publisher.published].sort(pair.compare).at(-1)!;
          await follower.reached(last, "the last event", 20_000);
          checkExact(follower.seen, publisher.published, from, pair.compare);
          assert.equal(publisher.errors(), 0);
        } finally {
          stop.abort();
          following.abort();
          await pair.close();
          admin.disconnect();
        }
      },
    );

    test(
      "a Redis stalled 2 s under a publisher delivers its backlog (over maxQueue) to every subscriber without ending one",
      {
        timeout: 60_000,
      },
      async () => {
        const script = join(root(), "scripts", "redis.mjs");
        const redis = await spawnChild("node", [script]);
        const control = new Redis(redis.url);
        const pair = redisPair({ max: 10_000 }, redis.url);
        const following = new AbortController();
        try {
          const from = await pair.b.publish("t", "start");
          const followers = Array.from(
            { length: 20 },
            () => follow(pair.a, "t", from, following.signal),
          );
          await sleep(100);
          const pid = Number(
            /process_id:(\d+)/.exec(await control.info("server"))![1],
          );
          process.kill(pid, "SIGSTOP");
          // 600 publishes wait for the stalled Redis, then land at once.
          const published = Array.from(
            { length: 600 },
            (_, i) => pair.b.publish("t", `e${i}`),
          );
          await sleep(2_000);
          process.kill(pid, "SIGCONT");
          const ids = await Promise.all(published);
          for (const follower of followers) {
            await follower.reached(ids.at(-1)!, "the backlog", 20_000);
            assert.equal(checkExact(follower.seen, ids, from, pair.compare), 0);
            assert.equal(follower.reconnects(), 0, "a subscriber was ended");
          }
        } finally {
          following.abort();
          await pair.close();
          control.disconnect();
          await redis.stop();
        }
      },
    );

    test("40 kills of the publisher's connection store no event twice", {
      timeout: 60_000,
    }, async () => {
      const admin = new Redis(url);
      const pair = redisPair({ max: 10_000 });
      const stop = new AbortController();
      const following = new AbortController();
      try {
        const from = await pair.b.publish("t", "start");
        const follower = follow(pair.a, "t", from, following.signal);
        await sleep(50);
        const publisher = publishing(pair.b, "t", 3_000, stop.signal, "e");
        for (let kill = 0; kill < 40; kill++) {
          await sleep(25);
          // Every command connection (the tails are pub/sub ones).
          await admin.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
        }
        stop.abort();
        await publisher.done;
        assert.equal(
          new Set(publisher.published).size,
          publisher.published.length,
        );
        const last = [...publisher.published].sort(pair.compare).at(-1)!;
        await follower.reached(last, "the last event", 20_000);
        // Every publish resolved once; the stream holds each once.
        const stream = pair.a.subscribe("t", { lastEventId: from });
        const stored: string[] = [];
        for await (const event of stream) {
          stored.push(event.data as string);
          if (event.id === last) break;
        }
        assert.equal(new Set(stored).size, stored.length, "stored twice");
        assert.equal(stored.length, publisher.published.length);
        checkExact(follower.seen, publisher.published, from, pair.compare);
      } finally {
        stop.abort();
        following.abort();
        await pair.close();
        admin.disconnect();
      }
    });

    test(
      "kills, a 5 s SIGSTOP, maxmemory and a restart without persistence: loud failures, announced losses",
      {
        timeout: 120_000,
      },
      async () => {
        const script = join(root(), "scripts", "redis.mjs");
        let redis = await spawnChild("node", [script]);
        const port = new URL(redis.url).port;
        const admin = () => {
          const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
          client.on("error", () => {});
          return client;
        };
        const pair = redisPair({ max: 1_000 }, redis.url);
        const stop = new AbortController();
        const following = new AbortController();
        try {
          const from = await pair.b.publish("t", "start");
          const followers = [pair.a, pair.b].map((hub) =>
            follow(hub, "t", from, following.signal)
          );
          await sleep(50);
          const publishers = [pair.a, pair.b].map((hub, i) =>
            publishing(hub, "t", 250, stop.signal, `p${i}-`)
          );
          const control = admin();
          // Kills of every connection.
          for (let kill = 0; kill < 5; kill++) {
            await sleep(200);
            for (const name of ["ssekit", "ssekit-tail"]) {
              for (const id of await clients(control, name)) {
                await control.client("KILL", "ID", id).catch(() => {});
              }
            }
          }
          // A Redis that stops answering for 5 s.
          const pid = Number(
            /process_id:(\d+)/.exec(await control.info("server"))![1],
          );
          process.kill(pid, "SIGSTOP");
          await sleep(5_000);
          process.kill(pid, "SIGCONT");
          await sleep(500);
          // Out of memory: publishes must fail, loudly.
          const errorsBefore = publishers[0].errors() + publishers[1].errors();
          await control.config("SET", "maxmemory-policy", "noeviction");
          await control.config("SET", "maxmemory", "1");
          await sleep(300);
          await control.config("SET", "maxmemory", "0");
          assert.ok(
            publishers[0].errors() + publishers[1].errors() > errorsBefore,
            "publishes refused for memory failed loudly",
          );
          control.disconnect();
          await sleep(300);
          // A restart that loses everything.
          await redis.stop();
          redis = await spawnChild("node", [script, port]);
          await sleep(1_000);
          stop.abort();
          await Promise.all(publishers.map((p) => p.done));
          const published = publishers.flatMap((p) => p.published);
          const failed = new Set(publishers.flatMap((p) => [...p.failed]));
          const ids = new Map(publishers.flatMap((p) => [...p.ids]));
          // The follower's ids are the stream's: after the restart they are
          // new ones, published after it, and checked like the others. An
          // append stored just before the restart, whose reply the restart
          // lost, is resent and stored again under a new id: the follower
          // may have seen the first one, which no publish resolved to.
          const superseded = (id: string, data: string) =>
            ids.has(data) && ids.get(data) !== id;
          const last = [...published].sort(pair.compare).at(-1)!;
          for (const follower of followers) {
            await follower.reached(last, "the last event", 30_000);
            const resets = checkExact(
              follower.seen,
              published,
              from,
              pair.compare,
              (id) => {
                const data = follower.data.get(id)!;
                return failed.has(data) || superseded(id, data);
              },
            );
            assert.ok(
              resets >= 1,
              "the restart that lost history was announced",
            );
          }
        } finally {
          stop.abort();
          following.abort();
          await pair.close();
          await redis.stop();
        }
      },
    );
  });
}
