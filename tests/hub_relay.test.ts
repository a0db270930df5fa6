// hub.relay (issue 13.3): an upstream read to its end with no client
// attached, its events published to a topic that ends with it; stopped
// from anywhere with hub.abort; never leaving followers waiting, even when
// the instance that runs it dies. On the memory store, and on Redis across
// instances.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { createHub, createSSEStream, type Hub } from "../mod.ts";
import { memoryStore } from "../src/memory_store.ts";
import { redisStore } from "../src/redis.ts";
import type { SSEEvent } from "../src/types.ts";
import { fakeOpenAI, fakeReply } from "../examples/openai_relay.ts";
import { spawnScript } from "./support/child.ts";
import { RawClient } from "./support/raw_client.ts";
import { serve } from "./support/server.ts";
import { deferred } from "./support/deferred.ts";
import { sleep, within } from "./support/time.ts";

const url = process.env.SSEKIT_REDIS_URL;
let prefixes = 0;

/** Hubs on one store's data: `count` instances (one for memory). */
type MakeHubs = (count: number) => Hub[];

const kinds: [string, MakeHubs][] = [[
  "memoryStore",
  () => [createHub({ store: memoryStore() })],
]];
const redisHubs = (count: number, prefix = newPrefix()) =>
  Array.from(
    { length: count },
    () => createHub({ store: redisStore({ redis: url, prefix }) }),
  );
function newPrefix() {
  return `ssekit-test:relay:${process.pid}:${Date.now()}:${++prefixes}:`;
}
if (url) kinds.push(["redisStore", (count) => redisHubs(count)]);

/** An upstream of `n` tokens, `every` ms apart, that notes its end. */
function tokens(n: number, every: number, ended?: (why: string) => void) {
  return (signal: AbortSignal) =>
    createSSEStream(
      async function* () {
        let finished = false;
        try {
          for (let i = 0; i < n; i++) {
            await sleep(every);
            yield { data: `t${i}` };
          }
          finished = true;
        } finally {
          ended?.(finished ? "finished" : "cancelled");
        }
      }(),
      { signal, keepAlive: false },
    );
}

/** Every event of a subscription until it ends, each within `ms`. */
async function drain(sub: AsyncIterableIterator<SSEEvent>, ms = 5_000) {
  const events: SSEEvent[] = [];
  for (;;) {
    const { done, value } = await within(sub.next(), ms, "next event");
    if (done) return events;
    events.push(value);
  }
}

const closeAll = (hubs: Hub[]) => Promise.all(hubs.map((hub) => hub.close()));

for (const [name, make] of kinds) {
  describe(`${name}: hub.relay`, () => {
    test("publishes each event and ends the topic with the upstream; a follower from `start` gets it whole, however late", async () => {
      const [hub] = make(1);
      try {
        const follower = hub.subscribe("reply");
        const run = await hub.relay("reply", tokens(5, 5));
        assert.equal(await within(run.done, 5_000, "done"), "completed");
        const late = await drain(
          hub.subscribe("reply", { lastEventId: run.start }),
        );
        assert.deepEqual(late.map((e) => e.data), [
          "t0",
          "t1",
          "t2",
          "t3",
          "t4",
          undefined,
        ]);
        const events = await drain(follower);
        assert.deepEqual(events.map((e) => e.data), [
          "t0",
          "t1",
          "t2",
          "t3",
          "t4",
          undefined, // The end, an id-only block.
        ]);
        assert.ok(events.every((e) => typeof e.id === "string"));
        await assert.rejects(hub.publish("reply", "late"), TypeError);
      } finally {
        await closeAll([hub]);
      }
    });

    test("outlives its clients: one that leaves mid-reply resumes with Last-Event-ID, no token lost or repeated", async () => {
      const hubs = make(2);
      const [runner, other] = [hubs[0], hubs.at(-1)!];
      const servers = await Promise.all(
        [runner, other].map((hub) =>
          serve((request) =>
            hub.response(request, "reply", { keepAlive: false })
          )
        ),
      );
      try {
        let upstreamEnd = "";
        const first = new RawClient(servers[0].url);
        await first.waitFor(":\n", 5_000);
        await runner.relay(
          "reply",
          tokens(40, 10, (why) => upstreamEnd = why),
        );
        await first.waitFor("data: t5\n\n", 5_000);
        first.close(); // The page reloads.
        const ids = [...first.body.matchAll(/id: ([^\n]+)\ndata: (t\d+)/g)];
        const [, lastId, lastToken] = ids.at(-1)!;
        // Back on the other instance, from where it was.
        const again = new RawClient(servers[1].url, {
          "Last-Event-ID": lastId,
        });
        await within(again.ended, 10_000, "the rest of the reply");
        const rest = [...again.body.matchAll(/data: (t\d+)/g)].map((m) => m[1]);
        const seen = [...ids.map((m) => m[2]), ...rest];
        assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => `t${i}`));
        assert.equal(Number(lastToken.slice(1)) + 1, Number(rest[0].slice(1)));
        assert.equal(upstreamEnd, "finished", "the upstream ran to its end");
      } finally {
        await Promise.all(servers.map((server) => server.close()));
        await closeAll(hubs);
      }
    });

    test("hub.abort stops the upstream within a second, on this or another instance; the topic ends as aborted", async () => {
      const hubs = make(2);
      try {
        for (const [i, stopper] of [hubs[0], hubs.at(-1)!].entries()) {
          const topic = `reply-${i}`;
          const cancelled = deferred<string>();
          const follower = hubs.at(-1)!.subscribe(topic);
          const run = await hubs[0].relay(
            topic,
            tokens(1_000, 20, cancelled.resolve),
          );
          await sleep(100);
          const asked = Date.now();
          assert.equal(await stopper.abort(topic), true);
          assert.equal(
            await within(cancelled.promise, 2_000, "cancel"),
            "cancelled",
          );
          assert.ok(
            Date.now() - asked < 1_000,
            `took ${Date.now() - asked} ms`,
          );
          assert.equal(await run.done, "aborted");
          const events = await drain(follower);
          const last = events.at(-1)!;
          assert.equal(last.event, "error");
          assert.equal(JSON.parse(last.data as string).error.type, "aborted");
        }
        assert.equal(await hubs[0].abort("nothing-runs-here"), false);
      } finally {
        await closeAll(hubs);
      }
    });

    test("a failing upstream ends the topic after an error event that reveals nothing", async () => {
      const [hub] = make(1);
      const original = console.error;
      console.error = () => {};
      try {
        const follower = hub.subscribe("bad");
        const run = await hub.relay(
          "bad",
          () => new Response("secret stack trace", { status: 500 }),
        );
        assert.equal(await run.done, "failed");
        const events = await drain(follower);
        assert.equal(events.length, 1);
        assert.equal(events[0].event, "error");
        assert.doesNotMatch(String(events[0].data), /secret/);
        assert.deepEqual(
          Object.keys(JSON.parse(events[0].data as string).error),
          ["message", "type"],
        );
      } finally {
        console.error = original;
        await closeAll([hub]);
      }
    });

    test("timeouts: a silent upstream (idleTimeout) and a long one (timeout) fail the run", async () => {
      const [hub] = make(1);
      const original = console.error;
      console.error = () => {};
      try {
        const silent = await hub.relay("silent", tokens(1, 10_000), {
          idleTimeout: 300,
        });
        const long = await hub.relay("long", tokens(1_000, 20), {
          timeout: 400,
        });
        assert.deepEqual(
          await within(Promise.all([silent.done, long.done]), 3_000, "done"),
          ["failed", "failed"],
        );
      } finally {
        console.error = original;
        await closeAll([hub]);
      }
    });

    test('following with missing: "404": an unknown or expired reply is 404, a running or ended one is not', async () => {
      const [hub] = make(1);
      try {
        const follow = (topic: string, headers: HeadersInit = {}) =>
          hub.response(new Request("http://x/", { headers }), topic, {
            missing: "404",
            headers: { "Access-Control-Allow-Origin": "*" },
          });
        const unknown = await follow("never-ran");
        assert.equal(unknown.status, 404);
        assert.equal(unknown.headers.get("access-control-allow-origin"), "*");
        const run = await hub.relay("slow", tokens(3, 200));
        const running = await follow("slow");
        assert.equal(running.status, 200, "no event yet, but a run");
        await running.body!.cancel();
        await run.done;
        assert.equal((await follow("slow")).status, 204);
        await assert.rejects(
          hub.response(new Request("http://x/"), "t", {
            missing: "later" as "404",
          }),
          TypeError,
        );
      } finally {
        await closeAll([hub]);
      }
    });

    test("bad input: a cap on runs, one run per topic, ended topics, bad options", async () => {
      const hubs = make(1);
      const hub = createHub({
        store: name === "memoryStore"
          ? memoryStore()
          : redisStore({ redis: url, prefix: newPrefix() }),
        maxRelays: 1,
      });
      try {
        const run = await hub.relay("a", tokens(100, 20));
        await assert.rejects(hub.relay("b", tokens(1, 1)), RangeError);
        await assert.rejects(hub.relay("a", tokens(1, 1)), TypeError);
        await hub.abort("a");
        await run.done;
        await assert.rejects(hub.relay("a", tokens(1, 1)), TypeError);
        await assert.rejects(hub.relay("", tokens(1, 1)), TypeError);
        await assert.rejects(
          hub.relay("c", tokens(1, 1), { timeout: -1 }),
          RangeError,
        );
        await assert.rejects(
          hub.relay("c", tokens(1, 1), { map: 5 as never }),
          TypeError,
        );
        assert.throws(() => createHub({ maxRelays: 0 }), RangeError);
      } finally {
        await closeAll([hub, ...hubs]);
      }
    });
  });
}

describe("hub.relay with the real fake OpenAI upstream over a socket", () => {
  test("the reply's token deltas reach a follower, then the end", async () => {
    const [hub] = kinds[0][1](1);
    const upstream = await serve((request) =>
      fakeOpenAI(request, { delay: 1 })
    );
    try {
      const follower = hub.subscribe("chat");
      const run = await hub.relay("chat", (signal) =>
        fetch(upstream.url, {
          method: "POST",
          body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
          signal,
        }), {
        map: (message) => {
          if (message.data === "[DONE]") return undefined;
          const token = JSON.parse(message.data).choices[0]?.delta?.content;
          return token ? { event: "token", data: token } : undefined;
        },
      });
      assert.equal(await run.done, "completed");
      const events = await drain(follower);
      assert.equal(
        events.filter((e) => e.event === "token").map((e) => e.data).join(""),
        fakeReply("hi").join(""),
      );
    } finally {
      await upstream.close();
      await hub.close();
    }
  });
});

if (url) {
  describe("redisStore: hub.relay when its instance dies", () => {
    test(
      "followers on another instance get an error event and the end within seconds",
      {
        timeout: 30_000,
      },
      async () => {
        const prefix = newPrefix();
        const [follower] = redisHubs(1, prefix);
        const runner = await spawnScript("relay_runner", {
          env: {
            SSEKIT_REDIS_URL: url,
            SSEKIT_REDIS_PREFIX: prefix,
            SSEKIT_TOPIC: "orphan",
          },
        });
        try {
          const sub = follower.subscribe("orphan");
          const first = await within(sub.next(), 5_000, "a first token");
          assert.match(String(first.value?.data), /^t\d+$/);
          await runner.kill();
          const died = Date.now();
          const events = await drain(sub, 15_000);
          const last = events.at(-1)!;
          assert.equal(last.event, "error");
          assert.ok(Date.now() - died < 10_000, `took ${Date.now() - died} ms`);
          // And a client that comes now is told the reply is over.
          const late = await follower.response(
            new Request("http://x/"),
            "orphan",
          );
          assert.equal(late.status, 204);
        } finally {
          await runner.kill();
          await follower.close();
        }
      },
    );
  });
}
