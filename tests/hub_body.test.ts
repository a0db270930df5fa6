// The body of a hub's response, read by hand (src/_source_reader.ts,
// issue 17): a reader that keeps up gets each event as it is published; a
// reader that stops holds at most one chunk in the body's stream, and what
// is published meanwhile waits in the subscription (bounded by maxQueue)
// and comes as one chunk when it reads again.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHub, type Hub } from "../mod.ts";
import { within } from "./support/time.ts";

const decoder = new TextDecoder();

/** The data of each event in `chunk`. */
function dataIn(chunk: Uint8Array | undefined): string[] {
  return [...decoder.decode(chunk).matchAll(/^data: (.*)$/gm)].map((m) => m[1]);
}

/** Runs `body` with a hub and a reader of topic "t" past its opening line. */
async function withReader(
  body: (
    hub: Hub,
    reader: ReadableStreamDefaultReader<Uint8Array>,
  ) => Promise<void>,
): Promise<void> {
  const hub = createHub();
  const response = await hub.response(new Request("http://localhost/"), "t", {
    keepAlive: false,
  });
  const reader = response.body!.getReader();
  try {
    await reader.read(); // the opening line
    await body(hub, reader);
  } finally {
    await reader.cancel();
    await hub.close();
  }
}

/** Publishes `data` while a read waits; the data of the chunk it brought. */
async function readWhilePublishing(
  hub: Hub,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  data: string,
): Promise<string[]> {
  const reading = reader.read();
  await hub.publish("t", data);
  return dataIn((await within(reading, 2_000, data)).value);
}

describe("a hub response's body", () => {
  test("a reader that keeps up gets each event in the publish that brings it", () =>
    withReader(async (hub, reader) => {
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(await readWhilePublishing(hub, reader, `e${i}`), [
          `e${i}`,
        ]);
      }
    }));

  test("a reader that stops holds one chunk at most; the rest waits and comes as one", () =>
    withReader(async (hub, reader) => {
      // Read once, so the body takes events as they come; then stop reading
      // while 49 more are published.
      assert.deepEqual(await readWhilePublishing(hub, reader, "e0"), ["e0"]);
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
    }));
});
