// The one FIFO queue (issue 16): the subscription's, the client
// connection's, parseSSE's and the Redis store's fair slots all hand items
// out through it, in order, without holding what they handed out.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Queue } from "../src/_queue.ts";
import { collectGarbage } from "./support/gc.ts";

describe("Queue", () => {
  test("hands items out first in, first out, and undefined when empty", () => {
    const queue = new Queue<number>();
    assert.equal(queue.shift(), undefined);
    queue.push(1);
    queue.push(2);
    assert.equal(queue.length, 2);
    assert.equal(queue.shift(), 1);
    queue.push(3);
    assert.deepEqual([queue.shift(), queue.shift(), queue.shift()], [
      2,
      3,
      undefined,
    ]);
    assert.equal(queue.length, 0);
  });

  test("clear drops every item", () => {
    const queue = new Queue<string>();
    queue.push("a");
    queue.push("b");
    queue.shift();
    queue.clear();
    assert.equal(queue.length, 0);
    assert.equal(queue.shift(), undefined);
    queue.push("c");
    assert.equal(queue.shift(), "c");
  });

  test("keeps order through a burst that is never drained (compaction)", () => {
    // Always a backlog: the array is never reset, only compacted.
    const queue = new Queue<number>();
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 1_000; i++) queue.push(next++);
      for (let i = 0; i < 900; i++) assert.equal(queue.shift(), expected++);
    }
    assert.equal(queue.length, next - expected);
    while (queue.length > 0) assert.equal(queue.shift(), expected++);
    assert.equal(expected, next);
  });

  test("behaves as an array with shift() under any pushes and shifts", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer(), fc.constant("shift" as const)), {
          maxLength: 5_000,
        }),
        (operations) => {
          const queue = new Queue<number>();
          const model: number[] = [];
          for (const operation of operations) {
            if (operation === "shift") {
              assert.equal(queue.shift(), model.shift());
            } else {
              queue.push(operation);
              model.push(operation);
            }
            assert.equal(queue.length, model.length);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test("holds nothing it handed out", async () => {
    const queue = new Queue<object>();
    let taken: object | undefined = {};
    const ref = new WeakRef(taken);
    queue.push(taken);
    queue.push({}); // Not drained: the taken slot must be cleared anyway.
    queue.shift();
    taken = undefined;
    // A turn first: engines keep a WeakRef's target alive through the
    // job in which it was made or read.
    await new Promise((resolve) => setTimeout(resolve, 0));
    collectGarbage();
    assert.equal(ref.deref(), undefined);
    assert.equal(queue.length, 1);
  });
});
