// The clock a hub's streams share for their keep-alive and stall checks
// (src/_shared_clock.ts, issue 17): every check runs once, at or after the
// time it is due, in the order they are due; one removed never runs; and
// the hub's streams arm one timer between them, not one each.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ClockEntry, SharedClock } from "../src/_shared_clock.ts";
import { createHub } from "../mod.ts";
import { within } from "./support/time.ts";

const decoder = new TextDecoder();

/** An entry that records when it ran, and may schedule itself again. */
function entry(
  clock: SharedClock,
  ran: { entry: Entry; due: number; at: number }[],
  again = 0,
): Entry {
  const self: Entry = {
    due: 0,
    slot: -1,
    finished: false,
    again,
    tick(now) {
      ran.push({ entry: self, due: self.scheduled, at: now });
      if (self.again-- > 0) {
        self.scheduled = now + 3;
        clock.add(self, self.scheduled);
      }
    },
    scheduled: 0,
  };
  return self;
}
interface Entry extends ClockEntry {
  again: number;
  scheduled: number;
}

/** Resolves once the clock has nothing scheduled. */
async function drained(clock: SharedClock): Promise<void> {
  const start = Date.now();
  while (clock.size > 0) {
    assert.ok(Date.now() - start < 5_000, "the clock never drained");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("SharedClock", () => {
  test("runs each check once, when due, in due order; removed ones never", async () => {
    const clock = new SharedClock();
    const ran: { entry: Entry; due: number; at: number }[] = [];
    const start = Date.now();
    const entries: Entry[] = [];
    // Dues in a scrambled order, with ties.
    for (let i = 0; i < 300; i++) {
      const e = entry(clock, ran);
      e.scheduled = start + 5 + ((i * 37) % 60);
      clock.add(e, e.scheduled);
      entries.push(e);
    }
    const removed = new Set(entries.filter((_, i) => i % 7 === 3));
    for (const e of removed) clock.remove(e);
    assert.equal(clock.size, 300 - removed.size);
    await drained(clock);
    assert.equal(ran.length, 300 - removed.size);
    assert.equal(new Set(ran.map((r) => r.entry)).size, ran.length);
    for (const r of ran) {
      assert.ok(!removed.has(r.entry));
      assert.ok(r.at >= r.due, `ran at ${r.at}, due at ${r.due}`);
    }
    for (let i = 1; i < ran.length; i++) {
      assert.ok(ran[i - 1].due <= ran[i].due, "out of due order");
    }
  });

  test("a check may schedule the next one from within, and remove others", async () => {
    const clock = new SharedClock();
    const ran: { entry: Entry; due: number; at: number }[] = [];
    const start = Date.now();
    const repeating = entry(clock, ran, 3);
    repeating.scheduled = start + 2;
    clock.add(repeating, repeating.scheduled);
    const victim = entry(clock, ran);
    victim.scheduled = start + 40;
    clock.add(victim, victim.scheduled);
    const remover = entry(clock, ran);
    remover.tick = (now) => {
      ran.push({ entry: remover, due: remover.scheduled, at: now });
      clock.remove(victim);
    };
    remover.scheduled = start + 4;
    clock.add(remover, remover.scheduled);
    await drained(clock);
    assert.equal(ran.filter((r) => r.entry === repeating).length, 4);
    assert.equal(ran.filter((r) => r.entry === victim).length, 0);
    assert.equal(victim.slot, -1);
    assert.equal(victim.due, 0);
  });
});

describe("a hub's streams share one clock", () => {
  test("keep-alive comments come on time, from far fewer timers than streams", async () => {
    const hub = createHub();
    const keepAlive = 60;
    const streams = 200;
    const realSetTimeout = globalThis.setTimeout;
    let armed = 0;
    const counting = ((...args: Parameters<typeof setTimeout>) => {
      armed++;
      return realSetTimeout(...args);
    }) as typeof setTimeout;
    const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
    try {
      for (let i = 0; i < streams; i++) {
        const response = await hub.response(
          new Request("http://localhost/"),
          "t",
          { keepAlive },
        );
        readers.push(response.body!.getReader());
      }
      globalThis.setTimeout = counting;
      const opened = performance.now();
      // Each stream: its opening comment, then a keep-alive comment. One
      // deadline for all: each would arm a timer of its own.
      await within(
        Promise.all(readers.map(async (reader) => {
          let got = "";
          while ((got.match(/^:\n/gm) ?? []).length < 2) {
            const { done, value } = await reader.read();
            assert.ok(!done, "the stream ended");
            got += decoder.decode(value);
          }
        })),
        5_000,
        "keep-alive comments",
      );
      const elapsed = performance.now() - opened;
      assert.ok(elapsed >= keepAlive - 5, `comments after ${elapsed} ms`);
      // A timer per stream would arm at least one each.
      assert.ok(armed < streams / 4, `${armed} timers for ${streams} streams`);
    } finally {
      globalThis.setTimeout = realSetTimeout;
      await Promise.all(readers.map((reader) => reader.cancel()));
      await hub.close();
    }
  });
});
