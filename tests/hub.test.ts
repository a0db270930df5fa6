// createHub and memoryStore: ids, fan-out, gap-free resume with racing
// publishers (on the memory store and on a Redis-like asynchronous store),
// history bounds, the reset event, slow-subscriber policies, close(),
// cancellation, and response() over real sockets.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { sleep, until, within } from "./support/time.ts";
import { createHub, type Hub } from "../src/hub.ts";
import { DEFAULT_HISTORY, type HubEntry, type HubStore } from "../src/store.ts";
import { memoryStore } from "../src/memory_store.ts";
import type { SSEEvent } from "../src/types.ts";
import { RawClient } from "./support/raw_client.ts";
import { storeContract } from "./support/store_contract.ts";
import { serverKinds, withServer } from "./support/server.ts";

type Sub = AsyncIterableIterator<SSEEvent>;

function next(sub: Sub, ms = 2_000): Promise<IteratorResult<SSEEvent>> {
  return within(sub.next(), ms, "next event");
}

async function take(sub: Sub, count: number, ms = 2_000): Promise<SSEEvent[]> {
  const events: SSEEvent[] = [];
  while (events.length < count) {
    const result = await next(sub, ms);
    if (result.done) break;
    events.push(result.value);
  }
  return events;
}

const dataOf = (events: SSEEvent[]) => events.map((event) => event.data);

/**
 * Reads events as they come until one has data `last`, without ending the
 * subscription (a for-await loop would call return() when it stops).
 */
async function readUntil(sub: Sub, last: string): Promise<string[]> {
  const data: string[] = [];
  for (;;) {
    const { done, value } = await sub.next();
    if (done) return data;
    data.push(value.data as string);
    if (value.data === last) return data;
  }
}

/** Resolves true when `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A seeded PRNG (mulberry32), so a failing interleaving can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Waits nothing, a few microtasks, or a macrotask, at random. */
async function jitter(rng: () => number): Promise<void> {
  const r = rng();
  if (r < 0.3) return;
  if (r < 0.7) {
    for (let i = Math.floor(rng() * 6); i >= 0; i--) await null;
    return;
  }
  await sleep(0);
}

/**
 * A store that behaves as a Redis Streams store would: every call answers
 * after a random delay; the tail starts after a round trip (missing what is
 * appended meanwhile, which the contract allows before it resolves), starts
 * with a few repeated older entries, and delivers in order but late.
 */
function laggyStore(inner: HubStore, rng: () => number): HubStore {
  const recent = new Map<string, HubEntry[]>();
  return {
    async append(topic, record) {
      await jitter(rng);
      const id = await inner.append(topic, record);
      const list = recent.get(topic) ?? [];
      list.push(Object.freeze({ id, ...record }));
      if (list.length > 5) list.shift();
      recent.set(topic, list);
      return id;
    },
    async read(topic, afterId, limit) {
      await jitter(rng);
      const result = await inner.read(topic, afterId, limit);
      await jitter(rng);
      return result;
    },
    async tail(topic, handler, signal) {
      // Like XREAD from an id read just before: a few repeats, and nothing
      // appended during the round trip below until it is over.
      const queue: HubEntry[] = [...(recent.get(topic) ?? [])];
      await jitter(rng);
      if (signal.aborted) return;
      let pumping = false;
      const deliver = async () => {
        if (pumping) return;
        pumping = true;
        while (queue.length > 0 && !signal.aborted) {
          await jitter(rng);
          if (signal.aborted) break;
          handler.entry(queue.shift()!);
        }
        pumping = false;
      };
      await inner.tail(topic, {
        entry(entry) {
          queue.push(entry);
          void deliver();
        },
        gap: () => handler.gap(),
        error: (reason) => handler.error(reason),
      }, signal);
      void deliver();
    },
    compare: (a, b) => inner.compare(a, b),
    close: () => inner.close(),
  };
}

storeContract("memoryStore", () => memoryStore({ max: 10 }), 10);

describe("memoryStore", () => {
  test("a handler that throws is detached and told; the others still get the entry", async () => {
    const store = memoryStore();
    const errors: unknown[] = [];
    const seen: string[] = [];
    const signal = new AbortController().signal;
    await store.tail("t", {
      entry: () => {
        throw new Error("bug");
      },
      gap: () => {},
      error: (reason) => void errors.push(reason),
    }, signal);
    await store.tail("t", {
      entry: (entry) => void seen.push(entry.data!),
      gap: () => {},
      error: () => {},
    }, signal);
    await store.append("t", { data: "a" });
    await store.append("t", { data: "b" });
    assert.equal(errors.length, 1);
    assert.deepEqual(seen, ["a", "b"]);
    await store.close();
  });

  test("a closed store refuses work with a TypeError", async () => {
    const store = memoryStore();
    await store.close();
    assert.throws(() => store.append("t", {}), /closed/);
    assert.throws(() => store.read("t", "x", 1), TypeError);
    assert.throws(
      () =>
        store.tail(
          "t",
          { entry() {}, gap() {}, error() {} },
          new AbortController().signal,
        ),
      TypeError,
    );
  });

  test("ttl expiry reaches idle topics through appends elsewhere", async () => {
    let time = 0;
    const store = memoryStore({ ttl: 100, now: () => time });
    const idle = await store.append("idle", { data: "old" });
    time = 500;
    for (let i = 0; i < 4; i++) await store.append("busy", { data: "x" });
    // Reading would expire it, but not forget it: reading like a topic
    // never used shows the sweep did (tests/memory_store.test.ts has more).
    assert.deepEqual(
      await store.read("idle", "nope", 10),
      await store.read("never", "nope", 10),
    );
    // Its last id is still a position.
    assert.deepEqual(await store.read("idle", idle, 10), {
      entries: [],
      gap: false,
      cursor: idle,
      absent: true,
    });
    await store.close();
  });
});

describe("createHub: ids and fan-out", () => {
  test("ids increase per topic, look like Redis stream ids, and are the events' ids", async () => {
    const store = memoryStore();
    const hub = createHub({ store });
    const subs = ["a", "b", "c"].map((topic) => hub.subscribe(topic));
    const ids: Record<string, string[]> = { a: [], b: [], c: [] };
    for (let i = 0; i < 300; i++) {
      const topic = "abc"[i % 3];
      ids[topic].push(await hub.publish(topic, { data: `${topic}${i}` }));
    }
    for (const [index, topic] of ["a", "b", "c"].entries()) {
      const list = ids[topic];
      assert.equal(new Set(list).size, list.length);
      for (let i = 1; i < list.length; i++) {
        assert.ok(store.compare(list[i - 1], list[i]) < 0, list[i]);
        assert.match(list[i], /^\d+-\d+$/);
      }
      const received = await take(subs[index], list.length);
      assert.deepEqual(received.map((event) => event.id), list);
    }
    // Comparing is numeric, not lexicographic: 9 < 10.
    assert.ok(store.compare(ids.a[8], ids.a[9]) < 0);
    await hub.close();
  });

  test("two hubs in one process never share ids", async () => {
    const one = createHub();
    const two = createHub();
    const a = await one.publish("t", "x");
    const b = await two.publish("t", "x");
    assert.notEqual(a, b);
    await Promise.all([one.close(), two.close()]);
  });

  test("fans one publish out to every subscriber, in order, as one frozen entry", async () => {
    const hub = createHub();
    const subs = Array.from({ length: 300 }, () => hub.subscribe("news"));
    assert.equal(hub.stats().subscribers, 300);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      ids.push(await hub.publish("news", { event: "n", data: { i } }));
    }
    const first = await take(subs[0], 40);
    assert.deepEqual(first.map((event) => event.id), ids);
    for (const sub of subs.slice(1)) {
      const events = await take(sub, 40);
      assert.deepEqual(events.map((event) => event.id), ids);
      assert.deepEqual(events.map((event) => event.data)[7], '{"i":7}');
      events.forEach((event, i) => assert.equal(event, first[i]));
      assert.ok(Object.isFrozen(events[0]));
    }
    await hub.close();
  });

  test("a subscription starts at subscribe(), before the first read", async () => {
    const hub = createHub();
    const sub = hub.subscribe("t");
    await hub.publish("t", "early");
    assert.deepEqual(dataOf(await take(sub, 1)), ["early"]);
    await hub.close();
  });

  test("serializes non-string data once per publish, with options.serialize", async () => {
    let calls = 0;
    const hub = createHub({
      serialize: (data) => {
        calls++;
        return `n=${(data as { n: number }).n}`;
      },
    });
    const subs = Array.from({ length: 20 }, () => hub.subscribe("t"));
    await hub.publish("t", { data: { n: 5 } });
    for (const sub of subs) {
      assert.deepEqual(dataOf(await take(sub, 1)), ["n=5"]);
    }
    assert.equal(calls, 1);
    await hub.close();
  });
});

describe("createHub: publish validation", () => {
  test("invalid events and topics reject at publish with a TypeError and poison nobody", async () => {
    const hub = createHub();
    const sub = hub.subscribe("t");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: [unknown, RegExp][] = [
      [{ event: "a\nb", data: "x" }, /"event"/],
      [{ id: 7, data: "x" }, /assigns ids/],
      [{ id: "", data: "x" }, /assigns ids/],
      [{ retry: -1 }, /"retry"/],
      [{ comment: 5 }, /"comment"/],
      [{ data: () => 1 }, /"data"/],
      [{ data: 1n }, /BigInt/i],
      [{ data: cyclic }, /circular|cyclic/i],
      [null, /got null/],
      [42, /got number/],
    ];
    for (const [event, message] of bad) {
      await assert.rejects(
        hub.publish("t", event as SSEEvent),
        (error: unknown) =>
          error instanceof TypeError && message.test(error.message),
        String(message),
      );
    }
    const badTopics = [
      "",
      5,
      null,
      "x".repeat(1_025),
      "a\nb",
      "tab\t",
      "nul\0",
      "del\x7f",
      "c1\x85",
      "lone\uD800",
      "\uDC00lone",
    ];
    for (const topic of badTopics) {
      await assert.rejects(
        hub.publish(topic as string, "x"),
        /Invalid topic: expected a non-empty string/,
        JSON.stringify(topic),
      );
      assert.throws(
        () => hub.subscribe(topic as string),
        /Invalid topic/,
        JSON.stringify(topic),
      );
      await assert.rejects(
        hub.response(new Request("http://x/"), topic as string),
        /Invalid topic/,
        JSON.stringify(topic),
      );
    }
    for (const topic of ["x".repeat(1_024), "üñï ☃ 😀", "user:42/chat"]) {
      await hub.publish(topic, "fine");
    }
    const first = await hub.publish("t", { event: "ok", data: "fine" });
    const second = await hub.publish("t", "also fine");
    const events = await take(sub, 2);
    assert.deepEqual(events, [
      { id: first, event: "ok", data: "fine" },
      { id: second, data: "also fine" },
    ]);
    await hub.close();
  });

  test("rejects bad options with messages naming the option", () => {
    const bad = 'Invalid createHub option "';
    const cases: [Parameters<typeof createHub>[0], string, typeof Error][] = [
      [
        { maxQueue: 0 },
        `${bad}maxQueue": expected a safe integer ≥ 1 (events per subscriber), got number 0`,
        RangeError,
      ],
      [
        { maxQueue: 1.5 },
        `${bad}maxQueue": expected a safe integer ≥ 1 (events per subscriber), got number 1.5`,
        RangeError,
      ],
      [
        { slow: "block" as "disconnect" },
        `${bad}slow": expected "disconnect" or "drop-oldest", got "block"`,
        TypeError,
      ],
      [
        { history: { max: -1 } },
        `${bad}history.max": expected a safe integer ≥ 0 (events per topic), got number -1`,
        RangeError,
      ],
      [
        { history: { ttl: 0 } },
        `${bad}history.ttl": expected a positive number of milliseconds or Infinity, got number 0`,
        RangeError,
      ],
      [
        { store: memoryStore(), history: {} },
        `${bad}history": expected no history beside a store: history configures the default memory store; give the bounds to the store (memoryStore({ max, ttl })), got an object`,
        TypeError,
      ],
      [
        { store: {} as HubStore },
        `${bad}store": expected a HubStore with append, read, tail, compare and close methods (append is undefined), got an object`,
        TypeError,
      ],
      [
        { resetEvent: "a\nb" },
        'Invalid SSE event field "event": it must be a string without CR or LF, got "a\\nb"',
        TypeError,
      ],
      [
        { resetEvent: "" },
        `${bad}resetEvent": expected a non-empty event type, got ""`,
        TypeError,
      ],
      [
        { closeRetry: { min: 10, max: 5 } },
        `${bad}closeRetry": expected { min, max } with safe integer milliseconds, 0 ≤ min ≤ max, got an object`,
        RangeError,
      ],
      [
        { serialize: "json" as unknown as () => string },
        `${bad}serialize": expected a function, got "json"`,
        TypeError,
      ],
      [
        { maxRelays: 0 },
        `${bad}maxRelays": expected a safe integer ≥ 1, got number 0`,
        RangeError,
      ],
      [
        { events: 5 as unknown as undefined },
        `${bad}events": expected the result of defineEvents(), got number 5`,
        TypeError,
      ],
      [
        { hooks: 5 as unknown as undefined },
        `${bad}hooks": expected an object of hook functions, got number 5`,
        TypeError,
      ],
    ];
    for (const [options, message, kind] of cases) {
      assert.throws(() => createHub(options), { name: kind.name, message });
    }
    // Given to the store directly, the bounds are the store's own options.
    assert.throws(() => memoryStore({ max: -1 }), {
      name: "RangeError",
      message:
        'Invalid memoryStore option "max": expected a safe integer ≥ 0 (events per topic), got number -1',
    });
    assert.throws(() => memoryStore({ now: 5 as unknown as () => number }), {
      name: "TypeError",
      message:
        'Invalid memoryStore option "now": expected a function returning milliseconds, got number 5',
    });
    assert.deepEqual(DEFAULT_HISTORY, { max: 1000, ttl: 300_000 });
  });
});

describe("createHub: resume", () => {
  test("replays the events after lastEventId, then continues live", async () => {
    const hub = createHub();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await hub.publish("t", `e${i}`));
    const sub = hub.subscribe("t", { lastEventId: ids[6] });
    assert.deepEqual(dataOf(await take(sub, 3)), ["e7", "e8", "e9"]);
    ids.push(await hub.publish("t", "e10"));
    assert.deepEqual(dataOf(await take(sub, 1)), ["e10"]);
    // Resuming at the newest id replays nothing and waits for live events.
    const caughtUp = hub.subscribe("t", { lastEventId: ids[10] });
    const pending = caughtUp.next();
    assert.equal(await settlesWithin(pending, 30), false);
    await hub.publish("t", "e11");
    assert.equal((await pending).value?.data, "e11");
    // An empty lastEventId means none: live events only.
    const fresh = hub.subscribe("t", { lastEventId: "" });
    await hub.publish("t", "e12");
    assert.deepEqual(dataOf(await take(fresh, 1)), ["e12"]);
    await hub.close();
  });

  const variants = [
    { store: "memory", maxQueue: 256, rounds: 40 },
    { store: "memory", maxQueue: 4, rounds: 25 },
    { store: "laggy", maxQueue: 256, rounds: 25 },
    { store: "laggy", maxQueue: 3, rounds: 15 },
  ] as const;
  for (const { store: kind, maxQueue, rounds } of variants) {
    test(
      `exactly once, in order, with racing publishers (${kind} store, maxQueue ${maxQueue})`,
      {
        timeout: 60_000,
      },
      async () => {
        const seed = Date.now() >>> 0;
        const deadline = Date.now() + 20_000;
        let disconnects = 0;
        for (let round = 0; round < rounds && Date.now() < deadline; round++) {
          const rng = random(seed + round);
          const inner = memoryStore({ max: 100_000 });
          const store = kind === "laggy" ? laggyStore(inner, rng) : inner;
          const hub = createHub({ store, maxQueue });
          const published: { id: string; data: string }[] = [];
          const before = 1 + Math.floor(rng() * 20);
          for (let i = 0; i < before; i++) {
            const data = `b${i}`;
            published.push({ id: await hub.publish("t", data), data });
          }
          const start = published[Math.floor(rng() * before)].id;
          const publishers = Array.from(
            { length: 1 + Math.floor(rng() * 3) },
            async (_, p) => {
              const count = Math.floor(rng() * 40);
              for (let i = 0; i < count; i++) {
                await jitter(rng);
                const data = `p${p}-${i}`;
                const id = await hub.publish("t", data);
                published.push({ id, data });
                const { maxQueued } = hub.stats();
                assert.ok(maxQueued <= maxQueue, `queue ${maxQueued}`);
              }
            },
          );
          // A consumer that sometimes dawdles; if its subscription ends, it
          // resumes from the last id it saw, as EventSource does.
          const consume = async () => {
            const got: string[] = [];
            let stalled = false;
            let last = start;
            for (;;) {
              await jitter(rng);
              const sub = hub.subscribe("t", { lastEventId: last });
              for (;;) {
                const result = await next(sub, 5_000);
                if (result.done) break;
                const event = result.value;
                assert.notEqual(event.event, "reset", `seed ${seed + round}`);
                last = event.id as string;
                const { maxQueued } = hub.stats();
                assert.ok(maxQueued <= maxQueue, `queue ${maxQueued}`);
                if (event.data === "end") return got;
                got.push(event.data as string);
                if (rng() < 0.2) await jitter(rng);
                // One long stall per round once live events flow: with a
                // small queue, this is what makes a subscriber fall behind
                // and go on from history.
                if (!stalled && event.data!.toString().startsWith("p")) {
                  stalled = true;
                  await sleep(20);
                }
              }
              disconnects++;
            }
          };
          const consumer = consume();
          await Promise.all(publishers);
          published.push({ id: await hub.publish("t", "end"), data: "end" });
          const got = await within(consumer, 10_000, `seed ${seed + round}`);
          const expected = published
            .filter(({ id }) => store.compare(id, start) > 0)
            .sort((a, b) => store.compare(a.id, b.id))
            .map(({ data }) => data)
            .slice(0, -1);
          assert.deepEqual(got, expected, `seed ${seed + round}`);
          await hub.close();
        }
        if (kind === "memory") {
          // Falling behind a small queue goes on from history (which holds
          // everything here) instead of ending the subscription.
          assert.equal(disconnects, 0, `seed ${seed}: cut off`);
        }
      },
    );
  }

  test("many resuming subscribers and publishers at once, each exactly once", {
    timeout: 30_000,
  }, async () => {
    const seed = Date.now() >>> 0;
    const rng = random(seed);
    const store = memoryStore();
    const hub = createHub({ store: laggyStore(store, rng) });
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await hub.publish("t", `b${i}`));
    const consumers = Array.from({ length: 40 }, async () => {
      const from = ids[Math.floor(rng() * ids.length)];
      await jitter(rng);
      const sub = hub.subscribe("t", { lastEventId: from });
      const got: string[] = [];
      for (;;) {
        const { value } = await next(sub, 5_000);
        if (value!.data === "end") return { from, got };
        got.push(value!.id as string);
        if (rng() < 0.1) await jitter(rng);
      }
    });
    const publishers = Array.from({ length: 3 }, async () => {
      for (let i = 0; i < 30; i++) {
        await jitter(rng);
        ids.push(await hub.publish("t", "live"));
      }
    });
    await Promise.all(publishers);
    await hub.publish("t", "end");
    const sorted = [...ids].sort(store.compare);
    for (const { from, got } of await Promise.all(consumers)) {
      assert.deepEqual(
        got,
        sorted.filter((id) => store.compare(id, from) > 0),
        `seed ${seed}`,
      );
    }
    await hub.close();
  });
});

describe("createHub: history bounds and the reset event", () => {
  test("history.max: an id that fell out gets reset, then the oldest kept", async () => {
    const hub = createHub({ history: { max: 5 } });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await hub.publish("t", `e${i}`));
    const fellOut = hub.subscribe("t", { lastEventId: ids[1] });
    const events = await take(fellOut, 6);
    assert.deepEqual(events[0], { event: "reset", data: "history" });
    assert.deepEqual(dataOf(events.slice(1)), ["e5", "e6", "e7", "e8", "e9"]);
    // The newest id trimmed is still a valid position: nothing was missed.
    const edge = hub.subscribe("t", { lastEventId: ids[4] });
    assert.deepEqual(dataOf(await take(edge, 5)), [
      "e5",
      "e6",
      "e7",
      "e8",
      "e9",
    ]);
    const oneBefore = hub.subscribe("t", { lastEventId: ids[3] });
    assert.equal((await take(oneBefore, 1))[0].event, "reset");
    await hub.close();
  });

  test("history.ttl: events older than ttl are not replayed (fake clock)", async () => {
    let time = 0;
    const hub = createHub({
      store: memoryStore({ ttl: 1_000, now: () => time }),
    });
    const a = await hub.publish("t", "a");
    const b = await hub.publish("t", "b");
    time = 600;
    await hub.publish("t", "c");
    time = 1_000;
    assert.deepEqual(
      dataOf(await take(hub.subscribe("t", { lastEventId: a }), 2)),
      ["b", "c"],
    );
    time = 1_001;
    const late = await take(hub.subscribe("t", { lastEventId: a }), 2);
    assert.deepEqual(late, [{ event: "reset", data: "history" }, {
      id: late[1].id,
      data: "c",
    }]);
    assert.deepEqual(
      dataOf(await take(hub.subscribe("t", { lastEventId: b }), 1)),
      ["c"],
    );
    await hub.close();
  });

  test("history.ttl with a real clock, and the reset id when nothing is left", async () => {
    const hub = createHub({ history: { ttl: 25 } });
    const first = await hub.publish("t", "old");
    await hub.publish("t", "older still");
    await sleep(60);
    const sub = hub.subscribe("t", { lastEventId: first });
    const [reset] = await take(sub, 1);
    assert.equal(reset.event, "reset");
    assert.equal(reset.data, "history");
    // With nothing to replay, the reset carries the position to resume
    // from, so the client's next reconnect is not another reset.
    assert.equal(typeof reset.id, "string");
    const again = hub.subscribe("t", { lastEventId: reset.id as string });
    await hub.publish("t", "new");
    assert.deepEqual(dataOf(await take(again, 1)), ["new"]);
    assert.deepEqual(dataOf(await take(sub, 1)), ["new"]);
    await hub.close();
  });

  test("unknown, malformed, future and foreign ids get reset, then the oldest kept", async () => {
    const hub = createHub();
    const other = createHub();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await hub.publish("t", `e${i}`));
    const epoch = ids[0].split("-")[0];
    const foreign = await other.publish("t", "elsewhere");
    for (
      const lastEventId of [
        "garbage",
        "42",
        `${epoch}-999`,
        `${epoch}-01`,
        `${epoch}-1.5`,
        `${Number(epoch) - 1}-1`,
        foreign,
        "x".repeat(10_000),
      ]
    ) {
      const events = await take(hub.subscribe("t", { lastEventId }), 4);
      assert.deepEqual(
        events[0],
        { event: "reset", data: "history" },
        lastEventId,
      );
      assert.deepEqual(
        dataOf(events.slice(1)),
        ["e0", "e1", "e2"],
        lastEventId,
      );
    }
    // A topic never published to: reset with the position before its first
    // event, which then resumes cleanly.
    const empty = hub.subscribe("fresh", {
      lastEventId: "from-an-old-process",
    });
    const [reset] = await take(empty, 1);
    assert.equal(reset.event, "reset");
    const resumed = hub.subscribe("fresh", { lastEventId: reset.id as string });
    await hub.publish("fresh", "first");
    assert.deepEqual(dataOf(await take(resumed, 1)), ["first"]);
    await Promise.all([hub.close(), other.close()]);
  });

  test("options.resetEvent renames the reset event", async () => {
    const hub = createHub({ resetEvent: "gap" });
    await hub.publish("t", "x");
    const [event] = await take(hub.subscribe("t", { lastEventId: "nope" }), 1);
    assert.deepEqual(event, { event: "gap", data: "history" });
    await hub.close();
  });
});

describe("createHub: slow subscribers", () => {
  test('"disconnect": a subscriber that falls behind goes on from history, holding no more than maxQueue; the others get everything', async () => {
    const hub = createHub({ maxQueue: 5 });
    const behind = hub.subscribe("t");
    const healthy = hub.subscribe("t");
    const reading = readUntil(healthy, "e29");
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push(await hub.publish("t", `e${i}`));
      if (i === 1) {
        // It reads two events, then stops for a while.
        assert.deepEqual(dataOf(await take(behind, 2)), ["e0", "e1"]);
      }
      assert.ok(hub.stats().maxQueued <= 5, `queue ${hub.stats().maxQueued}`);
      if (i % 3 === 0) await sleep(0);
    }
    const received = await within(reading, 2_000, "the healthy subscriber");
    assert.deepEqual(received, ids.map((_, i) => `e${i}`));
    assert.equal(hub.stats().subscribers, 2, "not cut off for falling behind");
    // Reading again, it gets everything from history, then live events.
    assert.deepEqual(
      dataOf(await take(behind, 28)),
      ids.slice(2).map((_, i) => `e${i + 2}`),
    );
    await hub.publish("t", "live");
    assert.deepEqual(dataOf(await take(behind, 1)), ["live"]);
    await hub.close();
  });

  test('"disconnect": a subscriber that falls out of history is ended; resuming, it gets the reset', async () => {
    const hub = createHub({ maxQueue: 5, history: { max: 10 } });
    const behind = hub.subscribe("t");
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await hub.publish("t", `e${i}`));
    // Its five queued events, then the end: history holds only e20 on.
    assert.deepEqual(dataOf(await take(behind, 5)), [
      "e0",
      "e1",
      "e2",
      "e3",
      "e4",
    ]);
    assert.deepEqual(await next(behind), { done: true, value: undefined });
    assert.equal(hub.stats().subscribers, 0);
    const resumed = hub.subscribe("t", { lastEventId: ids[4] });
    const events = await take(resumed, 11);
    assert.deepEqual(events[0], { event: "reset", data: "history" });
    assert.deepEqual(
      dataOf(events.slice(1)),
      ids.slice(20).map((_, i) => `e${i + 20}`),
    );
    await hub.close();
  });

  test("a burst is not a slow client: 300 publishes at once (over maxQueue) reach 100 prompt subscribers whole", async () => {
    const hub = createHub();
    const subs = Array.from({ length: 100 }, () => hub.subscribe("t"));
    const readers = subs.map((sub) => readUntil(sub, "e299"));
    const burst = Array.from(
      { length: 300 },
      (_, i) => hub.publish("t", `e${i}`),
    );
    await Promise.all(burst);
    const received = await within(Promise.all(readers), 5_000, "the readers");
    for (const data of received) {
      assert.deepEqual(data, Array.from({ length: 300 }, (_, i) => `e${i}`));
    }
    assert.equal(hub.stats().subscribers, 100, "none was cut off");
    assert.ok(hub.stats().maxQueued <= 256);
    await hub.close();
  });

  test('"drop-oldest": the queue stays at maxQueue, then reset and the newest events', async () => {
    const hub = createHub({ maxQueue: 5, slow: "drop-oldest" });
    const stuck = hub.subscribe("t");
    const healthy = hub.subscribe("t");
    const reading = readUntil(healthy, "e19");
    for (let i = 0; i < 20; i++) {
      await hub.publish("t", `e${i}`);
      if (i === 1) assert.deepEqual(dataOf(await take(stuck, 2)), ["e0", "e1"]);
      const { maxQueued } = hub.stats();
      assert.ok(maxQueued <= 5, `queue ${maxQueued}`);
      await sleep(0);
    }
    assert.equal(
      (await within(reading, 2_000, "the healthy subscriber")).length,
      20,
    );
    assert.equal(hub.stats().subscribers, 2);
    const events = await take(stuck, 6);
    assert.deepEqual(events[0], { event: "reset", data: "overflow" });
    assert.deepEqual(dataOf(events.slice(1)), [
      "e15",
      "e16",
      "e17",
      "e18",
      "e19",
    ]);
    // Caught up, it is live again.
    await hub.publish("t", "e20");
    assert.deepEqual(dataOf(await take(stuck, 1)), ["e20"]);
    await hub.close();
  });

  test(
    "memory stays bounded with stuck subscribers under a publish flood; publish never waits",
    {
      timeout: 30_000,
    },
    async () => {
      for (const slow of ["disconnect", "drop-oldest"] as const) {
        const hub = createHub({ maxQueue: 16, slow, history: { max: 64 } });
        const stuck = Array.from({ length: 20 }, () => hub.subscribe("t"));
        const healthy = Array.from({ length: 20 }, () => hub.subscribe("t"));
        const readers = healthy.map((sub) => readUntil(sub, "last"));
        let most = 0;
        const started = Date.now();
        for (let i = 0; i < 2_000 && Date.now() - started < 10_000; i++) {
          await hub.publish("t", i === 1_999 ? "last" : `e${i}`);
          most = Math.max(most, hub.stats().maxQueued);
          if (i % 8 === 7) await sleep(0);
        }
        const counts = (await within(
          Promise.all(readers),
          5_000,
          `${slow}: healthy readers`,
        )).map((data) => data.length);
        assert.ok(most <= 16, `${slow}: a queue reached ${most}`);
        assert.deepEqual(counts, healthy.map(() => 2_000), slow);
        // Behind, not cut off: a stuck reader holds its queue and a page.
        assert.equal(hub.stats().subscribers, 40, slow);
        void stuck;
        await hub.close();
      }
    },
  );
});

describe("createHub: cancellation and close", () => {
  test("aborting the signal ends a waiting subscription and releases it", async () => {
    const hub = createHub();
    const aborter = new AbortController();
    const sub = hub.subscribe("t", { signal: aborter.signal });
    await hub.publish("t", "queued");
    assert.equal(hub.stats().queued, 1);
    assert.deepEqual(dataOf(await take(sub, 1)), ["queued"]);
    const pending = sub.next();
    aborter.abort();
    assert.deepEqual(await pending, { done: true, value: undefined });
    assert.deepEqual(hub.stats(), {
      topics: 0,
      subscribers: 0,
      queued: 0,
      maxQueued: 0,
    });
    // Aborted with events queued: they are released too.
    const again = new AbortController();
    hub.subscribe("t", { signal: again.signal });
    await hub.publish("t", "never read");
    again.abort();
    assert.equal(hub.stats().queued, 0);
    // An already aborted signal: ended at once, nothing left behind.
    const dead = hub.subscribe("t", { signal: AbortSignal.abort() });
    assert.deepEqual(await dead.next(), { done: true, value: undefined });
    assert.equal(hub.stats().topics, 0);
    await hub.close();
  });

  test("return() and break release the subscription at once", async () => {
    const hub = createHub();
    const sub = hub.subscribe("t");
    const pending = sub.next();
    await sub.return!();
    assert.deepEqual(await pending, { done: true, value: undefined });
    assert.equal(hub.stats().subscribers, 0);
    const looping = (async () => {
      for await (const _ of hub.subscribe("t", { lastEventId: "x" })) break;
    })();
    await hub.publish("t", "one");
    await within(looping, 2_000, "the loop");
    assert.deepEqual(hub.stats(), {
      topics: 0,
      subscribers: 0,
      queued: 0,
      maxQueued: 0,
    });
    await hub.close();
  });

  test("an abort during the replay leaves nothing behind", async () => {
    const rng = random(7);
    const hub = createHub({ store: laggyStore(memoryStore(), rng) });
    const first = await hub.publish("t", "a");
    await hub.publish("t", "b");
    const aborter = new AbortController();
    const sub = hub.subscribe("t", {
      lastEventId: first,
      signal: aborter.signal,
    });
    const pending = sub.next();
    aborter.abort();
    assert.deepEqual(await pending, { done: true, value: undefined });
    await sleep(10);
    assert.equal(hub.stats().subscribers, 0);
    await hub.close();
  });

  test("a failing store tail ends the topic's subscriptions with its error", async () => {
    let fail: ((reason: unknown) => void) | undefined;
    let tails = 0;
    const inner = memoryStore();
    const hub = createHub({
      store: {
        ...inner,
        tail(topic, handler, signal) {
          tails++;
          if (tails === 1) return Promise.reject(new Error("no connection"));
          fail = handler.error;
          return inner.tail(topic, handler, signal);
        },
      },
    });
    const first = hub.subscribe("t");
    await assert.rejects(next(first), /no connection/);
    assert.deepEqual(await first.next(), { done: true, value: undefined });
    const live = hub.subscribe("t");
    const resuming = hub.subscribe("t", { lastEventId: "x" });
    await hub.publish("t", "ok");
    assert.deepEqual(dataOf(await take(live, 1)), ["ok"]);
    const waiting = live.next();
    fail!(new Error("connection lost"));
    await assert.rejects(waiting, /connection lost/);
    await assert.rejects(resuming.next(), /connection lost/);
    assert.equal(hub.stats().topics, 0);
    await hub.close();
  });

  test("close() delivers what is queued, then a jittered retry hint, then ends", async () => {
    const hub = createHub({ closeRetry: { min: 1_000, max: 60_000 } });
    const subs = Array.from({ length: 30 }, () => hub.subscribe("t"));
    const queued = hub.subscribe("t");
    await hub.publish("t", "last words");
    for (const sub of subs) {
      assert.deepEqual(dataOf(await take(sub, 1)), ["last words"]);
    }
    const waiting = subs.map((sub) => sub.next());
    const closing = hub.close();
    assert.equal(hub.close(), closing);
    await closing;
    const retries = new Set<number>();
    for (const [i, result] of (await Promise.all(waiting)).entries()) {
      const { retry } = result.value as SSEEvent;
      assert.ok(retry! >= 1_000 && retry! <= 60_000, String(retry));
      retries.add(retry!);
      assert.deepEqual(await subs[i].next(), { done: true, value: undefined });
    }
    assert.ok(retries.size > 1, "the retry hints are spread out");
    const rest = await take(queued, 5);
    assert.equal(rest.length, 2);
    assert.equal(rest[0].data, "last words");
    assert.equal(typeof rest[1].retry, "number");
    await assert.rejects(
      hub.publish("t", "x"),
      (error: unknown) =>
        error instanceof TypeError && /closed: publish\(\)/.test(error.message),
    );
    assert.throws(
      () => hub.subscribe("t"),
      (error: unknown) =>
        error instanceof TypeError &&
        /closed: subscribe\(\)/.test(error.message),
    );
    // A connection after close gets only a retry hint, not an error status
    // (which would stop EventSource for good).
    const late = await hub.response(new Request("http://localhost/"), "t");
    assert.equal(late.status, 200);
    assert.match(await late.text(), /^:\nretry: \d+\n$/);
  });
});

for (const kind of serverKinds) {
  describe(`hub.response() on ${kind}`, () => {
    async function withHub(
      body: (hub: Hub, url: string) => Promise<void>,
    ): Promise<void> {
      const hub = createHub();
      try {
        await withServer(
          kind,
          (request) => hub.response(request, "news", { keepAlive: false }),
          (url) => body(hub, url),
        );
      } finally {
        await hub.close();
      }
    }

    test("resumes after the Last-Event-ID header, then streams live events", async () => {
      await withHub(async (hub, url) => {
        const ids: string[] = [];
        for (let i = 1; i <= 3; i++) {
          ids.push(await hub.publish("news", { event: "n", data: `e${i}` }));
        }
        const client = new RawClient(url, { "Last-Event-ID": ids[0] });
        const { status, headers } = await within(
          client.response,
          5_000,
          "headers",
        );
        assert.equal(status, 200);
        assert.equal(
          headers.get("content-type"),
          "text/event-stream; charset=utf-8",
        );
        await client.waitFor("data: e3\n\n");
        ids.push(await hub.publish("news", { event: "n", data: "e4" }));
        await client.waitFor("data: e4\n\n");
        assert.equal(
          client.body,
          ":\n" +
            [2, 3, 4].map((i) => `event: n\nid: ${ids[i - 1]}\ndata: e${i}\n\n`)
              .join(""),
        );
        client.close();
        // The disconnect reaches the hub: the subscription is released.
        await until(() => hub.stats().subscribers, (n) => n === 0, "release");
      });
    });

    test("takes lastEventId from the query on a first connect; the header wins", async () => {
      await withHub(async (hub, url) => {
        const ids: string[] = [];
        for (let i = 1; i <= 3; i++) {
          ids.push(await hub.publish("news", `e${i}`));
        }
        const query = `${url}?lastEventId=${encodeURIComponent(ids[0])}`;
        const byQuery = new RawClient(query);
        await byQuery.waitFor("data: e3\n\n");
        assert.equal(
          byQuery.body,
          `:\nid: ${ids[1]}\ndata: e2\n\nid: ${ids[2]}\ndata: e3\n\n`,
        );
        const both = new RawClient(query, { "Last-Event-ID": ids[1] });
        await both.waitFor("data: e3\n\n");
        assert.equal(both.body, `:\nid: ${ids[2]}\ndata: e3\n\n`);
        byQuery.close();
        both.close();
        await until(() => hub.stats().subscribers, (n) => n === 0, "release");
      });
    });

    test("a browser sees the gap as event: reset, and close() as a retry hint", async () => {
      await withHub(async (hub, url) => {
        await hub.publish("news", "kept");
        const client = new RawClient(url, { "Last-Event-ID": "stale" });
        await client.waitFor("data: kept\n\n");
        assert.match(
          client.body,
          /^:\nevent: reset\ndata: history\n\nid: \d+-1\ndata: kept\n\n$/,
        );
        await hub.close();
        await within(client.ended, 5_000, "end of body");
        assert.match(client.body, /data: kept\n\nretry: \d+\n$/);
        client.close();
      });
    });
  });
}
