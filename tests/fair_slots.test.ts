// No topic starves another on the Redis store (issue 13): appends wait for
// a slot round-robin by topic, so a quiet topic's append does not queue
// behind another topic's backlog. FairSlots alone, then on a real Redis.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { FairSlots } from "../src/redis/_fair_slots.ts";
import { redisStore } from "../src/redis.ts";

describe("FairSlots", () => {
  test("serves waiting keys in turn, each key first come, first served", async () => {
    const slots = new FairSlots(1);
    assert.equal(slots.take("hot"), undefined, "a free slot is taken at once");
    const order: string[] = [];
    const waits = [
      ...["hot 1", "hot 2", "hot 3"].map((name) =>
        slots.take("hot")!.then(() => order.push(name))
      ),
      slots.take("quiet")!.then(() => order.push("quiet 1")),
      slots.take("quiet")!.then(() => order.push("quiet 2")),
    ];
    for (let i = 0; i < waits.length; i++) {
      slots.release();
      await Promise.resolve();
    }
    await Promise.all(waits);
    assert.deepEqual(order, ["hot 1", "quiet 1", "hot 2", "quiet 2", "hot 3"]);
    slots.release();
    assert.equal(slots.take("any"), undefined, "the last release frees it");
  });
});

const url = process.env.SSEKIT_REDIS_URL;
if (url) {
  test("redisStore: a quiet topic's append is not queued behind another topic's backlog", async () => {
    const store = redisStore({
      redis: url,
      prefix: `ssekit-test:${process.pid}:${Date.now()}:fair:`,
    });
    try {
      let hotDone = 0;
      const hot = Array.from(
        { length: 2_000 },
        (_, i) =>
          Promise.resolve(store.append("hot", { data: `h${i}` })).then(() =>
            hotDone++
          ),
      );
      let hotDoneBeforeQuiet = -1;
      const quiet = Promise.resolve(store.append("quiet", { data: "q" })).then(
        () => hotDoneBeforeQuiet = hotDone,
      );
      await Promise.all([...hot, quiet]);
      // Served first come, first served it would follow all 2,000; in turn,
      // it follows at most the 64 in flight and the one served before it.
      assert.ok(
        hotDoneBeforeQuiet <= 2 * 64,
        `${hotDoneBeforeQuiet} of the hot topic's appends finished first`,
      );
    } finally {
      await store.close();
    }
  });
}
