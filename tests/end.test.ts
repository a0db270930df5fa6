// Topics that end (issue 13.2), on every store: hub.end() gives live
// subscribers the last event and closes their streams; a client resuming
// from before the end gets what it missed, then the close; a client that
// comes after the end gets 204 No Content, which stops EventSource.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { createHub, type Hub } from "../src/hub.ts";
import { memoryStore } from "../src/memory_store.ts";
import { redisStore } from "../src/redis.ts";
import type { SSEEvent } from "../src/types.ts";
import { RawClient } from "./support/raw_client.ts";
import { serve } from "./support/server.ts";
import { sleep, within } from "./support/time.ts";

const url = process.env.SSEKIT_REDIS_URL;
let prefixes = 0;

const stores: [string, () => Hub][] = [
  ["memoryStore", () => createHub({ store: memoryStore() })],
];
if (url) {
  stores.push(["redisStore", () =>
    createHub({
      store: redisStore({
        redis: url,
        prefix: `ssekit-test:end:${process.pid}:${Date.now()}:${++prefixes}:`,
      }),
    })]);
}

/** Every event until the iterator ends, each within a few seconds. */
async function drain(sub: AsyncIterableIterator<SSEEvent>) {
  const events: SSEEvent[] = [];
  for (;;) {
    const { done, value } = await within(sub.next(), 5_000, "next event");
    if (done) return events;
    events.push(value);
  }
}

const dataOf = (events: SSEEvent[]) => events.map((event) => event.data);

for (const [name, make] of stores) {
  describe(`${name}: topics that end`, () => {
    test("live subscribers get the last event, then their iterators end", async () => {
      const hub = make();
      try {
        const subs = [hub.subscribe("t"), hub.subscribe("t")];
        const start = await hub.publish("t", "before subscribing");
        const resumed = hub.subscribe("t", { lastEventId: start });
        await sleep(50);
        await hub.publish("t", "one");
        const end = await hub.end("t", { event: "done", data: "bye" });
        for (const sub of [...subs, resumed]) {
          const events = await drain(sub);
          assert.deepEqual(dataOf(events).slice(-2), ["one", "bye"]);
          assert.equal(events.at(-1)?.id, end);
          assert.equal(events.at(-1)?.event, "done");
        }
        assert.equal(hub.stats().subscribers, 0);
      } finally {
        await hub.close();
      }
    });

    test("a client resuming from before the end gets what it missed, then the end", async () => {
      const hub = make();
      try {
        const first = await hub.publish("t", "a");
        await hub.publish("t", "b");
        const end = await hub.end("t");
        const events = await drain(hub.subscribe("t", { lastEventId: first }));
        // Without an event, the end is an id-only block: the client's last
        // event id becomes the end's, and with it, it gets 204.
        assert.deepEqual(events.map((e) => [e.data, e.id !== undefined]), [
          ["b", true],
          [undefined, true],
        ]);
        assert.equal(events.at(-1)?.id, end);
        // At the end already, or after it: nothing, at once.
        assert.deepEqual(
          await drain(hub.subscribe("t", { lastEventId: end })),
          [],
        );
        assert.deepEqual(await drain(hub.subscribe("t")), []);
      } finally {
        await hub.close();
      }
    });

    test("publishing or ending again after the end is refused with a TypeError", async () => {
      const hub = make();
      try {
        await hub.end("t", "last");
        await assert.rejects(hub.publish("t", "late"), TypeError);
        await assert.rejects(hub.end("t"), TypeError);
        await assert.rejects(hub.end("", "x"), TypeError);
        await assert.rejects(hub.end("u", { id: 1 } as SSEEvent), TypeError);
        await hub.publish("u", "another topic is fine");
      } finally {
        await hub.close();
      }
    });

    test("over a real socket: the stream closes after the end; a client with all of it gets 204", async () => {
      const hub = make();
      const server = await serve((request) =>
        hub.response(request, "t", {
          keepAlive: false,
          headers: { "Access-Control-Allow-Origin": "*" },
        })
      );
      try {
        const first = await hub.publish("t", "a");
        const live = new RawClient(server.url, { "Last-Event-ID": first });
        await within(live.response, 5_000, "headers");
        await live.waitFor(":\n");
        await hub.publish("t", "b");
        const end = await hub.end("t", { event: "done", data: "bye" });
        await within(live.ended, 5_000, "the stream's close");
        assert.match(
          live.body,
          /data: b\n\n.*event: done\nid: [^\n]+\ndata: bye\n\n$/s,
        );
        live.close();
        const lateHeaders: Record<string, string>[] = [
          { "Last-Event-ID": end },
          {},
        ];
        for (const headers of lateHeaders) {
          const late = new RawClient(server.url, headers);
          const { status, headers: got } = await within(
            late.response,
            5_000,
            "late headers",
          );
          assert.equal(status, 204);
          assert.equal(got.get("access-control-allow-origin"), "*");
          late.close();
        }
        // From before the end: the rest, then the close.
        const behind = new RawClient(server.url, { "Last-Event-ID": first });
        await within(behind.ended, 5_000, "the resumed stream's close");
        assert.match(behind.body, /data: b\n\n.*data: bye\n\n$/s);
        behind.close();
      } finally {
        await server.close();
        await hub.close();
      }
    });
  });
}
