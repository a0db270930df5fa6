// memoryStore forgets topics whose events are gone (issue 13, "topics cost
// nothing once they are gone") without ever misleading a client: an id of a
// forgotten incarnation is a gap once the topic is used again, the last id
// (and the cursor of a read that found nothing) still resumes, and a model
// check of random appends, expiry, tails and reads finds no silent gap.
// Whether a topic is forgotten is seen through the public API: it reads
// exactly like a topic never used. Heap figures are in
// bench/memory_topics.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createHub } from "../src/hub.ts";
import { memoryStore, type MemoryStoreOptions } from "../src/memory_store.ts";
import type { HubEntry, HubStore, HubTailHandler } from "../src/store.ts";
import type { SSEEvent } from "../src/types.ts";
import { within } from "./support/time.ts";

const TTL = 1_000;

/** A store on a fake clock whose events live `TTL` ms. */
function clocked(options: MemoryStoreOptions = {}) {
  let time = 0;
  const store = memoryStore({ ttl: TTL, now: () => time, ...options });
  return {
    store,
    advance: (ms: number) => void (time += ms),
    /**
     * Lets every event expire, then appends to another topic until the
     * sweep (two topics per append) has passed over `topics` topics.
     */
    async expireAll(topics: number) {
      time += 2 * TTL;
      for (let i = 0; i < Math.ceil(topics / 2) + 4; i++) {
        await store.append("elsewhere", { data: "sweep" });
      }
    },
  };
}

/**
 * `topic` reads exactly like a topic never used: same gap, same cursor.
 * While the store remembers it, its cursor is its own last id instead, and
 * appends elsewhere have since handed out higher ones.
 */
async function assertForgotten(store: HubStore, topic: string) {
  assert.deepEqual(
    await store.read(topic, "nope", 10),
    await store.read("never used", "nope", 10),
    `${topic} is forgotten`,
  );
}

const idsOf = (entries: readonly HubEntry[]) => entries.map((e) => e.id);

const quiet: HubTailHandler = {
  entry() {},
  gap: () => assert.fail("a gap"),
  error: (reason) => assert.fail(String(reason)),
};

async function take(sub: AsyncIterableIterator<SSEEvent>, count: number) {
  const events: SSEEvent[] = [];
  while (events.length < count) {
    const { done, value } = await within(sub.next(), 2_000, "next event");
    if (done) break;
    events.push(value);
  }
  return events;
}

describe("memoryStore forgets topics whose events are gone", () => {
  test("100,000 one-event topics are forgotten once their events expire, by the sweep on appends elsewhere", async () => {
    const { store, expireAll } = clocked();
    const topics = 100_000;
    for (let i = 0; i < topics; i++) {
      await store.append(`t${i}`, { data: "x" });
    }
    await expireAll(topics);
    const absent = await store.read("never used", "nope", 10);
    const remembered: string[] = [];
    for (let i = 0; i < topics; i++) {
      const result = await store.read(`t${i}`, "nope", 10);
      if (result.cursor !== absent.cursor) remembered.push(`t${i}`);
    }
    assert.deepEqual(remembered.slice(0, 5), [], `${remembered.length} kept`);
    await store.close();
  });

  test("an id of a forgotten incarnation is a gap once the topic is used again, never a position in the new one", async () => {
    const { store, expireAll } = clocked();
    const old = [
      await store.append("t", { data: "a" }),
      await store.append("t", { data: "b" }),
      await store.append("t", { data: "c" }),
    ];
    await expireAll(2);
    await assertForgotten(store, "t");
    const hub = createHub({ store });
    const fresh = [await hub.publish("t", "d"), await hub.publish("t", "e")];
    // New ids are above the old ones: a hub dropping the tail's entries at
    // or below a client's id drops none of them.
    assert.ok(store.compare(fresh[0], old[2]) > 0);
    for (const id of old.slice(0, 2)) {
      // A store that restarted its sequence would take this id for one of
      // the new entries and skip the entries before it.
      const result = await store.read("t", id, 10);
      assert.equal(result.gap, true, id);
      assert.deepEqual(idsOf(result.entries), fresh, id);
      const sub = hub.subscribe("t", { lastEventId: id });
      const events = await take(sub, 3);
      await sub.return!();
      assert.deepEqual(
        events.map((event) => event.event ?? event.data),
        ["reset", "d", "e"],
        id,
      );
    }
    await hub.close();
  });

  test("the last id of a forgotten topic resumes without a reset", async () => {
    const { store, expireAll } = clocked();
    await store.append("t", { data: "a" });
    const last = await store.append("t", { data: "b" });
    await expireAll(2);
    await assertForgotten(store, "t");
    assert.deepEqual(await store.read("t", last, 10), {
      entries: [],
      gap: false,
      cursor: last,
      absent: true,
    });
    // A client reconnects to the idle topic, then an event comes.
    const hub = createHub({ store });
    const sub = hub.subscribe("t", { lastEventId: last });
    const pending = take(sub, 1);
    const next = await hub.publish("t", "c");
    assert.deepEqual(await pending, [{ id: next, data: "c" }]);
    await sub.return!();
    await hub.close();
  });

  test("with 100 topics forgotten in turn, most last ids still resume; the others get a reset, never a silent gap", async () => {
    const { store, expireAll } = clocked();
    const topics = Array.from({ length: 100 }, (_, i) => `room ${i}`);
    const last = new Map<string, string>();
    for (const topic of topics) {
      last.set(topic, await store.append(topic, { data: "old" }));
    }
    await expireAll(topics.length);
    let resumed = 0;
    for (const topic of topics) {
      await assertForgotten(store, topic);
      const next = await store.append(topic, { data: "new" });
      const result = await store.read(topic, last.get(topic)!, 10);
      assert.deepEqual(idsOf(result.entries), [next], topic);
      if (!result.gap) resumed++;
    }
    // One floor for the whole store would let only the last room resume:
    // every other room's last id is below the last room's.
    assert.ok(resumed >= 90, `${resumed} of 100 resumed`);
    await store.close();
  });

  test("the cursor of a read that found no topic is a position until an incarnation comes and goes after it", async () => {
    const { store, expireAll } = clocked();
    const gone = await store.append("t", { data: "gone" });
    await expireAll(2);
    await assertForgotten(store, "t");
    const { cursor, gap } = await store.read("t", "nope", 10);
    assert.equal(gap, true);
    assert.ok(store.compare(cursor, gone) > 0);
    for (let i = 0; i < 3; i++) await store.append("other", { data: "x" });
    assert.deepEqual(await store.read("t", cursor, 10), {
      entries: [],
      gap: false,
      cursor,
      absent: true,
    });
    // An id above everything handed out is no position.
    const [epoch, seq] = cursor.split("-");
    const future = `${epoch}-${Number(seq) + 100}`;
    assert.equal((await store.read("t", future, 10)).gap, true);
    // The next incarnation starts above the cursor: nothing missed.
    const next = await store.append("t", { data: "next" });
    assert.deepEqual(await store.read("t", cursor, 10), {
      entries: [{ id: next, data: "next" }],
      gap: false,
      cursor: next,
    });
    // Once that incarnation is forgotten too, the cursor missed it.
    await expireAll(3);
    await assertForgotten(store, "t");
    assert.equal((await store.read("t", cursor, 10)).gap, true);
    const again = await store.append("t", { data: "again" });
    const result = await store.read("t", cursor, 10);
    assert.equal(result.gap, true);
    assert.deepEqual(idsOf(result.entries), [again]);
    await store.close();
  });

  test("a topic max: 0 keeps nothing of is forgotten at once; its last id stays a position", async () => {
    const store = memoryStore({ max: 0 });
    // A tailed topic is kept, so its appends raise the ids handed out.
    const stop = new AbortController();
    await store.tail("kept", quiet, stop.signal);
    const first = await store.append("t", { data: "a" });
    const last = await store.append("t", { data: "b" });
    await store.append("kept", { data: "x" });
    await assertForgotten(store, "t");
    assert.equal((await store.read("t", first, 10)).gap, true);
    assert.deepEqual(await store.read("t", last, 10), {
      entries: [],
      gap: false,
      cursor: last,
      absent: true,
    });
    stop.abort();
    await store.close();
  });

  test("a tailed topic is kept after its events expire, and forgotten when its last tail stops", async () => {
    const { store, expireAll, advance } = clocked();
    const seen: string[] = [];
    const stop = new AbortController();
    await store.tail("t", {
      ...quiet,
      entry: (entry) => void seen.push(entry.id),
    }, stop.signal);
    const first = await store.append("t", { data: "a" });
    await expireAll(2);
    const kept = await store.read("t", "nope", 10);
    assert.notDeepEqual(kept, await store.read("never used", "nope", 10));
    const second = await store.append("t", { data: "b" });
    assert.deepEqual(seen, [first, second]);
    assert.deepEqual(idsOf((await store.read("t", first, 10)).entries), [
      second,
    ]);
    advance(2 * TTL);
    await store.append("elsewhere", { data: "x" });
    stop.abort();
    await assertForgotten(store, "t");
    assert.deepEqual((await store.read("t", second, 10)).gap, false);
    await store.close();
  });
});

// A model check: random appends, clock steps, tails and reads on a few
// topics with small bounds, so topics are forgotten and reused all the
// time. Every id or cursor a topic ever gave is remembered with how many of
// the topic's entries its holder has seen; reading from it must give
// exactly the entries that followed, or say gap.
type Op =
  | { kind: "append"; topic: number }
  | { kind: "advance"; ms: number }
  | { kind: "read"; topic: number; pick: number; limit: number }
  | { kind: "tail"; topic: number }
  | { kind: "untail"; topic: number };

const TOPICS = ["a", "b", "c", "d", "e", "f"];
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      topic: fc.nat(TOPICS.length - 1),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("advance" as const),
      ms: fc.nat(15),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("read" as const),
      topic: fc.nat(TOPICS.length - 1),
      pick: fc.nat(),
      limit: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom("tail" as const, "untail" as const),
      topic: fc.nat(TOPICS.length - 1),
    }),
  },
);

async function runModel(ops: Op[], max: number, ttl: number) {
  let time = 0;
  const store = memoryStore({ max, ttl, now: () => time });
  // Per topic: every id appended, in order, and every id or cursor handed
  // out with how many entries its holder has seen.
  const history = TOPICS.map(() => [] as string[]);
  const seen = TOPICS.map(() => new Map<string, number>([["nope", 0]]));
  const tails = TOPICS.map(() =>
    [] as { stop: AbortController; from: number; got: string[] }[]
  );
  const errors: unknown[] = [];
  // A tail delivers every entry appended while it runs, in order.
  const checkTail = (topic: number, tail: (typeof tails)[number][number]) =>
    assert.deepEqual(tail.got, history[topic].slice(tail.from), "tail");
  for (const op of ops) {
    if (op.kind === "advance") {
      time += op.ms;
    } else if (op.kind === "append") {
      const id = await store.append(TOPICS[op.topic], { data: "x" });
      const ids = history[op.topic];
      assert.ok(!ids.includes(id), `${id} handed out twice`);
      ids.push(id);
      seen[op.topic].set(id, ids.length);
    } else if (op.kind === "tail") {
      const tail = {
        stop: new AbortController(),
        from: history[op.topic].length,
        got: [] as string[],
      };
      // The store swallows what a handler throws: record, check later.
      await store.tail(TOPICS[op.topic], {
        entry: (entry) => void tail.got.push(entry.id),
        gap: () => void errors.push("a gap"),
        error: (reason) => void errors.push(reason),
      }, tail.stop.signal);
      tails[op.topic].push(tail);
    } else if (op.kind === "untail") {
      const tail = tails[op.topic].shift();
      if (tail) {
        checkTail(op.topic, tail);
        tail.stop.abort();
      }
    } else {
      const tokens = [...seen[op.topic]];
      const [token, had] = tokens[op.pick % tokens.length];
      const ids = history[op.topic];
      const result = await store.read(TOPICS[op.topic], token, op.limit);
      const got = idsOf(result.entries);
      const where = `${TOPICS[op.topic]} after ${token} (seen ${had})`;
      if (!result.gap) {
        // Exactly what followed, or a silent gap.
        assert.deepEqual(got, ids.slice(had, had + op.limit), where);
      } else if (got.length > 0) {
        // What is kept, in order, all of it newer than the holder's.
        const start = ids.indexOf(got[0]);
        assert.ok(start >= had, where);
        assert.deepEqual(got, ids.slice(start, start + got.length), where);
      }
      // A cursor is at once a position: reading on is no gap.
      const position = got.length > 0
        ? ids.indexOf(got.at(-1)!) + 1
        : result.gap
        ? ids.length
        : had;
      // One token, one meaning.
      const before = seen[op.topic].get(result.cursor);
      if (before !== undefined) assert.equal(position, before, where);
      seen[op.topic].set(result.cursor, position);
      const on = await store.read(TOPICS[op.topic], result.cursor, op.limit);
      assert.equal(on.gap, false, `${where}: cursor ${result.cursor}`);
    }
  }
  for (const [topic, list] of tails.entries()) {
    for (const tail of list) {
      checkTail(topic, tail);
      tail.stop.abort();
    }
  }
  assert.deepEqual(errors, []);
  await store.close();
}

describe("memoryStore: a model check of forgetting and reuse", () => {
  test("random appends, expiry, tails and reads: every read is exact or a gap", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 20, maxLength: 300 }),
        fc.nat(3),
        fc.constantFrom(5, 20, Infinity),
        (ops, max, ttl) => runModel(ops, max, ttl),
      ),
      { numRuns: 300 },
    );
  });
});
