// Bytes shared between streams (a frozen event, encoded once, as a hub
// publishes it): a reader JavaScript holds may change or transfer the chunks
// it reads (whatwg/fetch#330), so whichever way the body reaches JavaScript,
// each stream's chunks are its own. (Reading `body` itself: see "each stream
// gets its own bytes" in stream.test.ts.)

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createSSEStream } from "../mod.ts";
import { sleep } from "./support/time.ts";

const shared = Object.freeze({ data: "tick" });

// A response whose second chunk is the shared event.
const sharing = () =>
  createSSEStream(async function* () {
    await sleep(1);
    yield shared;
  }());

async function secondChunk(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  await reader.read();
  const { value } = await reader.read();
  await reader.cancel();
  return value!;
}

describe("createSSEStream: shared bytes reach JavaScript as copies", () => {
  test("through clone()", async () => {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < 2; i++) {
      const response = sharing();
      chunks.push(await secondChunk(response.clone().body!));
      await response.body!.cancel();
    }
    assert.equal(new TextDecoder().decode(chunks[0]), "data: tick\n\n");
    assert.notEqual(chunks[0].buffer, chunks[1].buffer);
  });

  test("changing a chunk read from one stream leaves another's intact", async () => {
    const first = await secondChunk(sharing().body!);
    first.fill(0);
    const second = await secondChunk(sharing().body!);
    assert.equal(new TextDecoder().decode(second), "data: tick\n\n");
  });
});
