// The body of a hub's response, read by hand (src/_source_reader.ts,
// issue 17): a reader that keeps up gets each event as it is published; a
// reader that stops holds at most one chunk in the body's stream, and what
// is published meanwhile waits in the subscription (bounded by maxQueue)
// and comes as one chunk when it reads again.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHub } from "../mod.ts";
import { within } from "./support/time.ts";

const decoder = new TextDecoder();

/** The data of each event in `chunk`. */
function dataIn(chunk: Uint8Array | undefined): string[] {
  return [...decoder.decode(chunk).matchAll(/^data: (.*)$/gm)].map((m) => m[1]);
}

describe("a hub response's body", () => {
  test("a reader that keeps up gets each event in the publish that brings it", async () => {
    const hub = createHub();
    const response = await hub.response(new Request("http://localhost/"), "t", {
      keepAlive: false,
    });
    const reader = response.body!.getReader();
    try {
      await reader.read(); // the opening line
      for (let i = 0; i < 5; i++) {
        const reading = reader.read();
        await hub.publish("t", `e${i}`);
        assert.deepEqual(
          dataIn((await within(reading, 2_000, `e${i}`)).value),
          [
            `e${i}`,
          ],
        );
      }
    } finally {
      await reader.cancel();
      await hub.close();
    }
  });

  test("a reader that stops holds one chunk at most; the rest waits and comes as one", async () => {
    const hub = createHub();
    const response = await hub.response(new Request("http://localhost/"), "t", {
      keepAlive: false,
    });
    const reader = response.body!.getReader();
    try {
      await reader.read(); // the opening line
      // Read once, so the body takes events as they come.
      const reading = reader.read();
      await hub.publish("t", "e0");
      assert.deepEqual(dataIn((await within(reading, 2_000, "e0")).value), [
        "e0",
      ]);
      // Then stop reading while 49 more are published.
      for (let i = 1; i < 50; i++) await hub.publish("t", `e${i}`);
      const chunks: string[][] = [];
      while (chunks.flat().length < 49) {
        const { value } = await within(reader.read(), 2_000, "the rest");
        chunks.push(dataIn(value));
      }
      assert.deepEqual(
        chunks.flat(),
        Array.from({ length: 49 }, (_, i) => `e${i + 1}`),
      );
      // One chunk at most waited in the stream; the rest came together.
      assert.ok(chunks.length <= 2, `${chunks.length} chunks`);
    } finally {
      await reader.cancel();
      await hub.close();
    }
  });
});
