// redisStore on a real Redis (SSEKIT_REDIS_URL, which `npm test` sets up):
// the HubStore contract, exactly-once resume across two instances with
// racing publishers, a tail connection killed mid-stream, a Redis restart,
// and two server processes on different runtimes sharing one Redis.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { Redis } from "ioredis";
import { createHub, type Hub } from "../src/hub.ts";
import { redisStore, type RedisStoreOptions } from "../src/redis.ts";
import type { SSEEvent } from "../src/types.ts";
import { root, spawnChild } from "./support/child.ts";
import { RawClient } from "./support/raw_client.ts";
import { storeContract } from "./support/store_contract.ts";
import { sleep, within } from "./support/time.ts";

const url = process.env.SSEKIT_REDIS_URL;
let prefixes = 0;

function store(options: RedisStoreOptions = {}) {
  return redisStore({
    redis: url,
    prefix: `ssekit-test:${process.pid}:${Date.now()}:${++prefixes}:`,
    ...options,
  });
}

/** The next `count` events' data, each within a few seconds. */
async function take(
  sub: AsyncIterableIterator<SSEEvent>,
  count: number,
): Promise<string[]> {
  const data: string[] = [];
  while (data.length < count) {
    const { done, value } = await within(sub.next(), 10_000, "next event");
    if (done) break;
    data.push(value.data as string);
  }
  return data;
}

const tailIds = async (admin: Redis) =>
  (await admin.client("LIST") as string).split("\n")
    .filter((line) => line.includes(" name=ssekit-tail "))
    .map((line) => /\bid=(\d+)/.exec(line)![1]);

/**
 * A live subscriber reads `count` events published on `hub` while
 * `disrupt` runs after the first third: all arrive, once, in order, and
 * with `reset`, a reset event (data "history") where the disruption was.
 */
async function survives(
  hub: Hub,
  count: number,
  disrupt: () => Promise<void>,
  { reset = false } = {},
): Promise<void> {
  const sub = hub.subscribe("t");
  const expected: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i === Math.floor(count / 3)) {
      if (reset) expected.push("history");
    }
    expected.push(`e${i}`);
  }
  const reading = take(sub, expected.length);
  for (let i = 0; i < count; i++) {
    if (i === Math.floor(count / 3)) await disrupt();
    await hub.publish("t", `e${i}`);
    if (i % 5 === 0) await sleep(2);
  }
  assert.deepEqual(await reading, expected);
}

if (!url) {
  const reason =
    "SSEKIT_REDIS_URL is not set (npm test starts a Redis and sets it)";
  if (process.env.CI === "true") {
    test("the Redis tests run under CI", () => assert.fail(reason));
  } else {
    console.log(`redis.test.ts: skipped: ${reason}`);
  }
} else {
  storeContract("redisStore", () => store({ max: 10 }), 10);

  describe("redisStore", () => {
    test("rejects topics two of which could share a key, and bad options", async () => {
      const redis = store();
      for (const topic of ["", "x".repeat(1_025), "a\uD800"]) {
        await assert.rejects(
          async () => await redis.append(topic, {}),
          TypeError,
        );
      }
      assert.throws(() => store({ prefix: "a{b}:" }), TypeError);
      await redis.close();
      assert.throws(() => store({ reconnect: { attempts: 0 } }), {
        name: "RangeError",
        message:
          'Invalid redisStore option "reconnect.attempts": expected a safe integer ≥ 1, got number 0',
      });
      assert.throws(() => store({ max: -1 }), {
        name: "RangeError",
        message:
          'Invalid redisStore option "max": expected a safe integer ≥ 0 (events per topic), got number -1',
      });
      assert.throws(
        () => redisStore({ redis: 5 as unknown as string }),
        TypeError,
      );
    });

    test("a topic's hash holds a bounded number of publish tokens, however many appends it had", async () => {
      const prefix = `ssekit-test:tokens:${process.pid}:${Date.now()}:`;
      const redis = store({ prefix, max: 1_000 });
      const admin = new Redis(url!);
      try {
        // Topics interleaved, as a busy instance publishes them.
        await Promise.all(
          Array.from(
            { length: 3_000 },
            (_, i) => redis.append(`t${i % 3}`, { data: `e${i}` }),
          ),
        );
        for (let t = 0; t < 3; t++) {
          const fields = await admin.hlen(`${prefix}{t:t${t}}:m`);
          // 64 token slots of this store, and the floor.
          assert.ok(fields <= 65, `t${t}'s hash holds ${fields} fields`);
        }
      } finally {
        await redis.close();
        admin.disconnect();
      }
    });

    test("uses a given client without closing it; ids compare numerically", async () => {
      const client = new Redis(url);
      const redis = store({ redis: client });
      await redis.append("t", {
        event: "e",
        data: "x",
        retry: 5,
        comment: "c",
      });
      const { entries } = await redis.read("t", "0-0", 10);
      assert.deepEqual(entries[0], {
        id: entries[0].id,
        event: "e",
        data: "x",
        retry: 5,
        comment: "c",
      });
      assert.ok(redis.compare("9-0", "10-0") < 0);
      assert.ok(redis.compare("10-9", "10-10") < 0);
      await redis.close();
      assert.equal(await client.ping(), "PONG");
      client.disconnect();
    });

    test(
      "exactly once, in order, resuming on another instance while publishers race",
      {
        timeout: 60_000,
      },
      async () => {
        const prefix = `ssekit-test:race:${process.pid}:${Date.now()}:`;
        const shared = redisStore({ redis: url, prefix });
        const a = createHub({ store: shared });
        const b = createHub({ store: redisStore({ redis: url, prefix }) });
        try {
          const published: string[] = [];
          for (let i = 0; i < 20; i++) {
            published.push(await a.publish("t", `b${i}`));
          }
          for (let round = 0; round < 4; round++) {
            const from =
              published[Math.floor(Math.random() * published.length)];
            const sub = b.subscribe("t", { lastEventId: from });
            const publishers = [a, b].map(async (hub, p) => {
              for (let i = 0; i < 30; i++) {
                published.push(await hub.publish("t", `p${p}-${i}`));
                if (Math.random() < 0.3) await sleep(1);
              }
            });
            const reading = (async () => {
              const ids: string[] = [];
              for (;;) {
                const { value } = await within(sub.next(), 10_000, "next");
                if (value!.data === `end${round}`) return ids;
                ids.push(value!.id as string);
              }
            })();
            await Promise.all(publishers);
            const end = await a.publish("t", `end${round}`);
            const expected = [...published].sort(shared.compare)
              .filter((id) => shared.compare(id, from) > 0);
            published.push(end);
            assert.deepEqual(await reading, expected, `round ${round}`);
            await sub.return!();
          }
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      },
    );

    test("a tail connection killed mid-stream reconnects and loses nothing", {
      timeout: 60_000,
    }, async () => {
      const admin = new Redis(url!);
      const hub = createHub({ store: store() });
      try {
        const killed: string[] = [];
        await survives(hub, 90, async () => {
          const ids = await tailIds(admin);
          assert.equal(ids.length, 1);
          await admin.client("KILL", "ID", ids[0]);
          killed.push(...ids);
        });
        const now = await tailIds(admin);
        assert.equal(now.length, 1);
        assert.notEqual(now[0], killed[0], "a new tail connection");
      } finally {
        await hub.close();
        admin.disconnect();
      }
    });

    test(
      "a Redis restart without persistence is survived with no loss and no duplicate, and announced with a reset",
      {
        timeout: 90_000,
      },
      async () => {
        const script = join(root(), "scripts", "redis.mjs");
        let redis = await spawnChild("node", [script]);
        const port = new URL(redis.url).port;
        const hub = createHub({
          store: redisStore({
            redis: redis.url,
            reconnect: { attempts: 100, max: 200 },
          }),
        });
        try {
          // The restarted Redis has lost the history the tail resumes from:
          // whether anything was published in the break, only a reset can say.
          await survives(hub, 60, async () => {
            await redis.stop();
            redis = await spawnChild("node", [script, port]);
          }, { reset: true });
        } finally {
          await hub.close();
          await redis.stop();
        }
      },
    );

    test("two server processes on Deno and Bun share one Redis", {
      timeout: 90_000,
    }, async () => {
      const env = {
        SSEKIT_REDIS_URL: url,
        SSEKIT_REDIS_PREFIX: `ssekit-test:multi:${process.pid}:${Date.now()}:`,
      };
      const server = join("tests", "support", "hub_server.ts");
      const instances = await Promise.all([
        spawnChild("deno", ["run", "-A", server], { env }),
        spawnChild("bun", [server], { env }),
      ]);
      const clients: RawClient[] = [];
      try {
        const [a, b] = instances.map((instance) => instance.url);
        const publish = async (on: string, data: string) => {
          const response = await fetch(`${on}?topic=t`, {
            method: "POST",
            body: data,
          });
          return await response.text();
        };
        // A brand-new subscriber starts wherever A's tail starts, one Redis
        // round trip after its headers; resuming after a known id is the
        // guarantee, so A resumes after an event published before it came.
        const start = await publish(b, "zero");
        const onA = new RawClient(`${a}?topic=t`, { "Last-Event-ID": start });
        clients.push(onA);
        await within(onA.response, 10_000, "headers from A");
        await onA.waitFor(":\n");
        const first = await publish(b, "one");
        await onA.waitFor("data: one\n\n", 10_000);
        const second = await publish(a, "two");
        await onA.waitFor("data: two\n\n", 10_000);
        assert.equal(
          onA.body,
          `:\nid: ${first}\ndata: one\n\nid: ${second}\ndata: two\n\n`,
        );
        onA.close();
        const missed = [await publish(a, "three"), await publish(b, "four")];
        const onB = new RawClient(`${b}?topic=t`, { "Last-Event-ID": second });
        clients.push(onB);
        await onB.waitFor("data: four\n\n", 10_000);
        const five = await publish(a, "five");
        await onB.waitFor("data: five\n\n", 10_000);
        assert.equal(
          onB.body,
          `:\nid: ${missed[0]}\ndata: three\n\nid: ${
            missed[1]
          }\ndata: four\n\nid: ${five}\ndata: five\n\n`,
        );
      } finally {
        for (const client of clients) client.close();
        await Promise.all(instances.map((instance) => instance.stop()));
      }
    });
  });
}
