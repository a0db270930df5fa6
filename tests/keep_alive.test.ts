// The keep-alive schedule (src/_stream_timer.ts and the stream's check),
// with real timers: a comment once a stream has gone keepAlive ms without
// a write, except when an event was due in the same instant and comes
// first (issue 17: a publisher with the keep-alive's period meets every
// stream's check).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createSSEStream } from "../mod.ts";
import { within } from "./support/time.ts";

const decoder = new TextDecoder();

/** Holds the event loop for `ms`: timers due meanwhile come due together. */
function block(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // Busy: nothing else runs.
  }
}

/** Reads until `text` has come; everything read, as text. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  text: string,
): Promise<string> {
  let got = "";
  while (!got.includes(text)) {
    const { done, value } = await within(reader.read(), 5_000, text);
    if (done) throw new Error(`the stream ended before ${text}: ${got}`);
    got += decoder.decode(value);
  }
  return got;
}

/**
 * A stream fed by hand with `keepAlive`, read past its opening line: the
 * source to enqueue events on, and the reader.
 */
async function opened(keepAlive: number) {
  let source!: ReadableStreamDefaultController<string>;
  const response = createSSEStream(
    new ReadableStream<string>({ start: (c) => void (source = c) }),
    { keepAlive },
  );
  const reader = response.body!.getReader();
  assert.equal(await readUntil(reader, ":\n"), ":\n");
  return { source, reader };
}

describe("keep-alive schedule", () => {
  test("an event due with the keep-alive check goes instead of a comment", async () => {
    const keepAlive = 200;
    const { source, reader } = await opened(keepAlive);
    try {
      const reading = readUntil(reader, "data: a\n\n");
      source.enqueue("a");
      // The next event is due keepAlive + 10 ms after this one, like the
      // publisher's next; the loop is busy past both, so the stream's check
      // (due keepAlive ms after the event was written) and the publisher
      // come due together, the check first.
      setTimeout(() => source.enqueue("b"), keepAlive + 10);
      setTimeout(() => block(60), keepAlive - 30);
      assert.equal(await reading, "data: a\n\n");
      assert.equal(await readUntil(reader, "data: b\n\n"), "data: b\n\n");
    } finally {
      await reader.cancel();
    }
  });

  test("a stream idle after an event still gets its comment, a turn late at most", async () => {
    const keepAlive = 150;
    const { source, reader } = await opened(keepAlive);
    try {
      source.enqueue("a");
      assert.equal(await readUntil(reader, "data: a\n\n"), "data: a\n\n");
      const written = performance.now();
      // Then comments, every keepAlive ms: the first after the event, then
      // while nothing else comes.
      for (let i = 1; i <= 3; i++) {
        assert.equal(await readUntil(reader, ":\n"), ":\n");
        const after = performance.now() - written;
        assert.ok(
          after >= i * keepAlive - 5 && after < i * keepAlive + 400,
          `comment ${i} after ${after} ms`,
        );
      }
    } finally {
      await reader.cancel();
    }
  });
});
