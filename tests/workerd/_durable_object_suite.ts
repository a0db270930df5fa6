// durableObjectStore on a real Durable Object's storage, inside workerd
// (bundled into the core suite's worker by core.workerd.ts, never run by
// `deno test` and the like: there is no Durable Object there): the HubStore
// contract, as the memory and Redis stores pass it, and a second store on
// the same keys (the object after an eviction) carrying on where the first
// left off. core.workerd.ts also restarts workerd itself on on-disk storage.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHub } from "../../src/hub.ts";
import { durableObjectStore } from "../../src/durable_object.ts";
import { storeContract } from "../support/store_contract.ts";
import { storage } from "./_worker.ts";

let prefixes = 0;
const fresh = () => `test-${++prefixes}:`;

storeContract(
  "durableObjectStore",
  () => durableObjectStore(storage(), { prefix: fresh(), max: 10 }),
  10,
);

describe("durableObjectStore after an eviction", () => {
  test("a new store on the same keys keeps the history, the ids and the end", async () => {
    const prefix = fresh();
    const before = durableObjectStore(storage(), { prefix });
    const ids = [
      await before.append("t", { data: "one" }),
      await before.append("t", { data: "two" }),
    ];
    const ended = await before.append("done", { end: true });
    await before.close();
    const after = durableObjectStore(storage(), { prefix });
    const read = await after.read("t", ids[0], 10);
    assert.deepEqual(read, {
      entries: [{ id: ids[1], data: "two" }],
      gap: false,
      cursor: ids[1],
    });
    const next = await after.append("t", { data: "three" });
    assert.ok(after.compare(ids[1], next) < 0, "ids keep increasing");
    await assert.rejects(
      async () => await after.append("done", { data: "late" }),
      TypeError,
    );
    assert.equal((await after.read("done", "", 10)).end, ended);
    await after.close();
  });

  test("a hub on a new store resumes a client after Last-Event-ID exactly", async () => {
    const prefix = fresh();
    const first = createHub({
      store: durableObjectStore(storage(), { prefix }),
    });
    const ids = [];
    for (const data of ["a", "b", "c"]) {
      ids.push(await first.publish("t", data));
    }
    await first.close();
    const second = createHub({
      store: durableObjectStore(storage(), { prefix }),
    });
    const sub = second.subscribe("t", { lastEventId: ids[0] });
    const seen = [];
    for (let i = 0; i < 2; i++) {
      const { value } = await sub.next();
      seen.push([value!.id, value!.data]);
    }
    assert.deepEqual(seen, [[ids[1], "b"], [ids[2], "c"]]);
    await sub.return!();
    await second.close();
  });

  test("an id from before the storage was wiped is a gap", async () => {
    const prefix = fresh();
    const before = durableObjectStore(storage(), { prefix });
    const old = await before.append("t", { data: "old" });
    await before.close();
    const keys = [...(await storage().list({ prefix })).keys()];
    await storage().delete(keys);
    const after = durableObjectStore(storage(), { prefix });
    const id = await after.append("t", { data: "new" });
    const read = await after.read("t", old, 10);
    assert.equal(read.gap, true);
    assert.deepEqual(read.entries.map((entry) => entry.id), [id]);
    await after.close();
  });
});
