// The HubStore contract, shared by the tests of every store: the memory
// store's in hub.test.ts, the Redis store's in redis.test.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { HubStore } from "../../src/store.ts";
import { sleep, until } from "./time.ts";

/**
 * The HubStore contract the hub relies on, written against any store so a
 * Redis store can run it too. `trimAfter` appends enough to push the
 * store's first entry out of its history.
 */
export function storeContract(
  name: string,
  make: () => HubStore,
  trimAfter: number,
): void {
  describe(`${name}: the HubStore contract`, () => {
    test("append returns increasing ids; read pages after an id", async () => {
      const store = make();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(await store.append("t", { event: "e", data: `d${i}` }));
      }
      for (let i = 1; i < ids.length; i++) {
        assert.ok(store.compare(ids[i - 1], ids[i]) < 0);
        assert.ok(store.compare(ids[i], ids[i - 1]) > 0);
        assert.equal(store.compare(ids[i], ids[i]), 0);
      }
      const page = await store.read("t", ids[0], 2);
      assert.deepEqual(page, {
        entries: [
          { id: ids[1], event: "e", data: "d1" },
          { id: ids[2], event: "e", data: "d2" },
        ],
        gap: false,
        cursor: ids[2],
      });
      const rest = await store.read("t", page.cursor, 10);
      assert.deepEqual(rest.entries.map((entry) => entry.id), ids.slice(3));
      assert.equal(rest.gap, false);
      const end = await store.read("t", ids[4], 10);
      assert.deepEqual(end, { entries: [], gap: false, cursor: ids[4] });
      await store.close();
    });

    test("an id that is not a position reads as a gap from the oldest entry", async () => {
      const store = make();
      const first = await store.append("t", { data: "a" });
      for (const afterId of ["", "nope", "1-2-3", "99999999999999-0"]) {
        const result = await store.read("t", afterId, 10);
        assert.equal(result.gap, true, afterId);
        assert.equal(result.entries[0].id, first, afterId);
      }
      const empty = await store.read("never", "nope", 10);
      assert.equal(empty.gap, true);
      assert.deepEqual(empty.entries, []);
      // A store that can tell says it knows nothing of the topic.
      assert.notEqual(empty.absent, false);
      // The cursor of an empty gap is a real position: no gap from there.
      const again = await store.read("never", empty.cursor, 10);
      assert.deepEqual({ ...again, absent: undefined }, {
        entries: [],
        gap: false,
        cursor: empty.cursor,
        absent: undefined,
      });
      const id = await store.append("never", { data: "x" });
      const after = await store.read("never", empty.cursor, 10);
      assert.deepEqual(after.entries.map((e) => e.id), [id]);
      assert.equal(after.absent, undefined, "a topic with entries is there");
      await store.close();
    });

    test("an id trimmed out of history reads as a gap", async () => {
      const store = make();
      const first = await store.append("t", { data: "0" });
      const second = await store.append("t", { data: "1" });
      for (let i = 0; i < trimAfter; i++) {
        await store.append("t", { data: `x${i}` });
      }
      const result = await store.read("t", first, 1_000);
      assert.equal(result.gap, true);
      assert.notEqual(result.entries[0].id, second);
      await store.close();
    });

    test("an end record ends the topic: later appends are refused, reads say where it ended", async () => {
      const store = make();
      const first = await store.append("t", { data: "a" });
      const end = await store.append("t", {
        event: "done",
        data: "z",
        end: true,
      });
      await assert.rejects(
        async () => await store.append("t", { data: "late" }),
        {
          name: "TypeError",
          message:
            'The topic "t" has ended: nothing can be appended to it until its history expires',
        },
      );
      const read = await store.read("t", first, 10);
      assert.deepEqual(read, {
        entries: [{ id: end, event: "done", data: "z", end: true }],
        gap: false,
        cursor: end,
        end,
      });
      assert.deepEqual(await store.read("t", end, 10), {
        entries: [],
        gap: false,
        cursor: end,
        end,
      });
      // Other topics are not affected.
      await store.append("other", { data: "fine" });
      const bare = await store.append("bare", { end: true });
      assert.equal((await store.read("bare", "", 10)).end, bare);
      assert.equal((await store.read("other", "", 10)).end, undefined);
      await store.close();
    });

    test("tail delivers later appends in order until its signal aborts", async () => {
      const store = make();
      await store.append("t", { data: "before" });
      const seen: string[] = [];
      const aborter = new AbortController();
      await store.tail("t", {
        entry: (entry) => void seen.push(entry.data!),
        gap: () => assert.fail("a gap"),
        error: (reason) => assert.fail(String(reason)),
      }, aborter.signal);
      await store.append("t", { data: "one" });
      await store.append("other", { data: "elsewhere" });
      await store.append("t", { data: "two" });
      await until(() => seen, (s) => s.includes("two"), "tail");
      assert.deepEqual(seen.filter((data) => data !== "before"), [
        "one",
        "two",
      ]);
      aborter.abort();
      await store.append("t", { data: "three" });
      await sleep(10);
      assert.equal(seen.includes("three"), false);
      await store.close();
    });
  });
}
