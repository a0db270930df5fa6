// createSSEStream in process: the Response, the wire text, coalescing,
// backpressure, cancellation, errors and keep-alive.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { compress } from "hono/compress";
import { deferred } from "./support/deferred.ts";
import { streamOf } from "./support/streams.ts";
import { sleep } from "./support/time.ts";
import {
  createSSEStream,
  DEFAULT_KEEP_ALIVE,
  formatEvent,
  type SSEEvent,
  type SSEStreamOptions,
} from "../mod.ts";

const decoder = new TextDecoder();

/** Reads one chunk of the body as text, failing instead of hanging. */
async function readChunk(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  ms = 2_000,
): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no chunk within ${ms} ms`)), ms);
  });
  try {
    const { done, value } = await Promise.race([reader.read(), timeout]);
    return done ? undefined : decoder.decode(value);
  } finally {
    clearTimeout(timer);
  }
}

async function readAll(response: Response): Promise<string[]> {
  const reader = response.body!.getReader();
  const chunks: string[] = [];
  for (let chunk; (chunk = await readChunk(reader)) !== undefined;) {
    chunks.push(chunk);
  }
  return chunks;
}

const quiet = { onError: () => {} };

describe("createSSEStream: the response", () => {
  test("has the SSE headers and no hop-by-hop header", () => {
    const response = createSSEStream([]);
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get("content-type"),
      "text/event-stream; charset=utf-8",
    );
    assert.equal(
      response.headers.get("cache-control"),
      "no-cache, no-transform",
    );
    assert.equal(response.headers.get("x-accel-buffering"), "no");
    for (const name of ["connection", "transfer-encoding", "keep-alive"]) {
      assert.equal(response.headers.has(name), false, name);
    }
  });

  test("passes through Hono's compress() uncompressed, whatever its type filter (README, Deploying)", async () => {
    for (const contentTypeFilter of [undefined, /event-stream/]) {
      const app = new Hono();
      app.use(compress({ contentTypeFilter }));
      app.get("/", () => createSSEStream(["a", "b"]));
      const response = await app.request("/", {
        headers: { "Accept-Encoding": "gzip, deflate" },
      });
      assert.equal(response.headers.has("content-encoding"), false);
      assert.equal(await response.text(), ":\ndata: a\n\ndata: b\n\n");
    }
  });

  test("merges options.headers over the defaults and takes a status", async () => {
    const response = createSSEStream([], {
      status: 201,
      headers: { "Cache-Control": "no-store", "X-Trace": "1" },
    });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(response.headers.get("x-trace"), "1");
    assert.equal(response.headers.get("x-accel-buffering"), "no");
    await response.body!.cancel();
  });

  test("rejects hop-by-hop headers, which break HTTP/2", () => {
    for (
      const name of [
        "Connection",
        "Transfer-Encoding",
        "Keep-Alive",
        "Upgrade",
        "Proxy-Connection",
      ]
    ) {
      assert.throws(
        () => createSSEStream([], { headers: { [name]: "x" } }),
        (error: unknown) =>
          error instanceof TypeError &&
          error.message.includes(name.toLowerCase()),
      );
    }
  });

  test("rejects headers that would misframe the body: Content-Length, Content-Encoding", () => {
    for (const name of ["Content-Length", "content-encoding"]) {
      assert.throws(
        () => createSSEStream([], { headers: { [name]: "5" } }),
        (error: unknown) =>
          error instanceof TypeError &&
          error.message.includes(name.toLowerCase()),
        name,
      );
    }
  });

  test("checks every option before it touches the source, which stays as it was (issue 12.10)", () => {
    const bad: [string, object][] = [
      ["status", { status: 99 }],
      ["status", { status: 204 }],
      ["status", { status: 600 }],
      ["status", { status: 200.5 }],
      ["status", { status: "200" }],
      ["signal", { signal: {} }],
      ["onError", { onError: "log" }],
      ["serialize", { serialize: 1 }],
      ["keepAlive", { keepAlive: -1 }],
      ["stallTimeout", { stallTimeout: 0 }],
      ["stallTimeout", { stallTimeout: "30s" }],
      ["retry", { retry: -1 }],
      ["header", { headers: { "Content-Length": "5" } }],
    ];
    for (const [name, options] of bad) {
      const source = streamOf(["never read"]);
      let called = false;
      const source2 = () => {
        called = true;
        return ["never made"];
      };
      assert.throws(
        () => createSSEStream(source, options as SSEStreamOptions),
        (error: unknown) =>
          (error instanceof TypeError || error instanceof RangeError) &&
          error.message.includes(name),
        name,
      );
      assert.throws(() =>
        createSSEStream(source2, options as SSEStreamOptions)
      );
      assert.equal(source.locked, false, `${name}: the source was taken`);
      assert.equal(called, false, `${name}: the source was made`);
    }
    assert.throws(
      () => createSSEStream([], null as unknown as SSEStreamOptions),
      TypeError,
    );
  });

  test("rejects a source that is not a sequence, and a string", () => {
    for (const bad of [null, 42, "data", {}]) {
      assert.throws(() => createSSEStream(bad as unknown as []), TypeError);
    }
    // The message names what it got, in plain English.
    assert.throws(
      () => createSSEStream(new Error("x") as unknown as []),
      {
        name: "TypeError",
        message:
          "Invalid SSE source: expected an async iterable, an iterable, a ReadableStream or a function returning one, got an Error",
      },
    );
  });

  test("names createSSEStream, the option and the value in one message style", () => {
    const bad = 'Invalid createSSEStream option "';
    const ms = "false or milliseconds in (0, 2147483647]";
    const cases: [object, string, string][] = [
      [
        { status: 204 },
        `${bad}status": expected an integer from 200 to 599 that allows a body (not 204, 205 or 304), got number 204`,
        "RangeError",
      ],
      [
        { signal: {} },
        `${bad}signal": expected an AbortSignal, got an object`,
        "TypeError",
      ],
      [
        { onError: "log" },
        `${bad}onError": expected a function, got "log"`,
        "TypeError",
      ],
      [
        { serialize: 1 },
        `${bad}serialize": expected a function, got number 1`,
        "TypeError",
      ],
      [
        { keepAlive: -1 },
        `${bad}keepAlive": expected ${ms}, got number -1`,
        "RangeError",
      ],
      [
        { stallTimeout: "30s" },
        `${bad}stallTimeout": expected ${ms}, got "30s"`,
        "RangeError",
      ],
      [
        { events: 5 },
        `${bad}events": expected the result of defineEvents(), got number 5`,
        "TypeError",
      ],
      [
        { hooks: 5 },
        `${bad}hooks": expected an object of hook functions, got number 5`,
        "TypeError",
      ],
    ];
    for (const [options, message, name] of cases) {
      assert.throws(
        () => createSSEStream([], options as SSEStreamOptions),
        { name, message },
      );
    }
  });

  test("rejects bad keepAlive and retry options", () => {
    for (
      const keepAlive of [0, -1, Number.NaN, 2 ** 31, true as unknown as number]
    ) {
      assert.throws(() => createSSEStream([], { keepAlive }), RangeError);
    }
    assert.throws(() => createSSEStream([], { retry: -5 }), /"retry"/);
  });

  test("writes the events as formatEvent does, after a first comment", async () => {
    const events: (SSEEvent | string)[] = [
      "plain",
      { event: "update", id: 1, data: { n: 1 } },
      { data: "two\nlines" },
      { comment: "note" },
      { id: "" },
    ];
    const text = (await readAll(createSSEStream(events))).join("");
    assert.equal(
      text,
      ":\n" + events.map((event) => formatEvent(event)).join(""),
    );
  });

  test("sends the retry hint first when asked", async () => {
    const text = (await readAll(createSSEStream(["x"], { retry: 2500 }))).join(
      "",
    );
    assert.equal(text, "retry: 2500\ndata: x\n\n");
  });

  test("uses options.serialize for non-string data", async () => {
    const text = (await readAll(
      createSSEStream([{ data: 7 }], { serialize: (v) => `n=${v}` }),
    ))
      .join("");
    assert.equal(text, ":\ndata: n=7\n\n");
  });

  test("accepts a ReadableStream, a sync iterable of promises and a function source", async () => {
    const fromStream = await readAll(
      createSSEStream(streamOf(["a", "b"])),
    );
    assert.equal(fromStream.join(""), ":\ndata: a\n\ndata: b\n\n");
    const fromPromises = await readAll(
      createSSEStream([Promise.resolve("a"), "b"]),
    );
    assert.equal(fromPromises.join(""), ":\ndata: a\n\ndata: b\n\n");
    let received: AbortSignal | undefined;
    const fromFunction = await readAll(createSSEStream(async (signal) => {
      received = signal;
      await sleep(1);
      return ["c"];
    }));
    assert.equal(fromFunction.join(""), ":\ndata: c\n\n");
    assert.ok(received instanceof AbortSignal);
  });
});

describe("createSSEStream: flow", () => {
  test("the first bytes go out at once, even when the producer is silent", async () => {
    const never = deferred();
    const response = createSSEStream(async function* () {
      await never.promise;
      yield "late";
    }());
    const reader = response.body!.getReader();
    assert.equal(await readChunk(reader, 500), ":\n");
    await reader.cancel();
    never.resolve();
  });

  test("coalesces events a sync iterable gives at once into one chunk", async () => {
    const events = Array.from(
      { length: 100 },
      (_, i) => ({ id: i, data: `e${i}` }),
    );
    const chunks = await readAll(createSSEStream(events));
    assert.deepEqual(chunks, [
      ":\n",
      events.map((event) => formatEvent(event)).join(""),
    ]);
  });

  test("coalesces events an async generator yields without waiting", async () => {
    async function* burst() {
      for (let i = 0; i < 50; i++) yield `e${i}`;
    }
    const chunks = await readAll(createSSEStream(burst()));
    assert.equal(chunks.length, 2);
    assert.equal(
      chunks[1],
      Array.from({ length: 50 }, (_, i) => `data: e${i}\n\n`).join(""),
    );
  });

  test("bursts separated by real waits go out as separate chunks", async () => {
    async function* bursts() {
      yield "a1";
      yield "a2";
      await sleep(20);
      yield "b1";
      yield "b2";
    }
    const chunks = await readAll(createSSEStream(bursts()));
    assert.deepEqual(chunks, [
      ":\n",
      "data: a1\n\ndata: a2\n\n",
      "data: b1\n\ndata: b2\n\n",
    ]);
  });

  test("an event is never held back waiting for a later one", async () => {
    // The producer yields the next event only after the consumer has seen the
    // previous one: holding any event back would deadlock.
    const seen: (() => void)[] = [];
    const response = createSSEStream(async function* () {
      for (let i = 0; i < 5; i++) {
        const consumed = deferred();
        seen.push(consumed.resolve);
        yield `e${i}`;
        await consumed.promise;
      }
    }());
    const reader = response.body!.getReader();
    assert.equal(await readChunk(reader), ":\n");
    for (let i = 0; i < 5; i++) {
      assert.equal(await readChunk(reader), `data: e${i}\n\n`);
      seen[i]();
    }
    assert.equal(await readChunk(reader), undefined);
  });

  test("the end of a long burst is not held back either", async () => {
    // A burst long enough that the watcher stops counting turns, then a wait
    // for the consumer to see its last event.
    const consumed = deferred();
    const response = createSSEStream(async function* () {
      for (let i = 0; i < 200; i++) yield `e${i}`;
      await consumed.promise;
      yield "after";
    }());
    const reader = response.body!.getReader();
    let text = "";
    while (!text.includes("data: e199\n\n")) {
      const chunk = await readChunk(reader);
      assert.ok(chunk !== undefined, `the stream ended after ${text}`);
      text += chunk;
    }
    assert.equal(
      text,
      ":\n" + Array.from({ length: 200 }, (_, i) => `data: e${i}\n\n`).join(""),
    );
    consumed.resolve();
    assert.equal(await readChunk(reader), "data: after\n\n");
    assert.equal(await readChunk(reader), undefined);
  });

  test("backpressure: a reader that stops reading stops an endless source", async () => {
    for (const kind of ["sync", "async"] as const) {
      let pulls = 0;
      const syncEndless = function* () {
        for (;;) yield `event ${pulls++}`;
      };
      const asyncEndless = async function* () {
        for (;;) yield `event ${pulls++}`;
      };
      const response = createSSEStream(
        kind === "sync" ? syncEndless() : asyncEndless(),
      );
      const reader = response.body!.getReader();
      await readChunk(reader);
      await sleep(50);
      const afterStop = pulls;
      await sleep(100);
      assert.equal(
        pulls,
        afterStop,
        `${kind}: the source advanced without demand`,
      );
      // A few coalesced chunks at most: the queue is bounded, not the source.
      assert.ok(afterStop < 5_000, `${kind}: ${afterStop} events pulled ahead`);
      await reader.cancel();
    }
  });

  test("backpressure: nothing is pulled ahead of the reader's reads", async () => {
    // A server whose socket is full stops reading the body: every event
    // taken from the source by then must be in what it read, not in a
    // chunk queued ahead (1,000 slow readers × 16 KiB = 16 MiB).
    const data = "x".repeat(92);
    const eventBytes = formatEvent(data).length;
    for (const kind of ["sync", "async"] as const) {
      let pulls = 0;
      const syncEndless = function* () {
        for (;;) {
          pulls++;
          yield data;
        }
      };
      const asyncEndless = async function* () {
        for (;;) {
          pulls++;
          yield data;
        }
      };
      const response = createSSEStream(
        kind === "sync" ? syncEndless() : asyncEndless(),
      );
      const reader = response.body!.getReader();
      assert.equal(await readChunk(reader), ":\n");
      let received = 0;
      for (let i = 0; i < 3; i++) received += (await readChunk(reader))!.length;
      await sleep(50);
      assert.equal(
        pulls * eventBytes,
        received,
        `${kind}: ${pulls * eventBytes - received} bytes pulled ahead`,
      );
      await reader.cancel();
    }
  });

  test("keep-alive: comments keep coming while the source stays silent", async () => {
    const never = deferred();
    const response = createSSEStream(
      async function* () {
        yield "first";
        await never.promise;
      }(),
      { keepAlive: 50 },
    );
    const reader = response.body!.getReader();
    assert.equal(await readChunk(reader), ":\n");
    assert.equal(await readChunk(reader), "data: first\n\n");
    for (let i = 0; i < 3; i++) assert.equal(await readChunk(reader), ":\n");
    await reader.cancel();
    never.resolve();
  });

  test("keep-alive: a comment after keepAlive ms without a write, reset by writes", async () => {
    const stop = deferred();
    const response = createSSEStream(
      async function* () {
        // Events every 30 ms keep the line busy: no keep-alive in between.
        for (let i = 0; i < 8; i++) {
          yield `e${i}`;
          await sleep(30);
        }
        await stop.promise;
      }(),
      { keepAlive: 300 },
    );
    const reader = response.body!.getReader();
    let text = "";
    const started = Date.now();
    while (!text.includes("data: e7")) text += await readChunk(reader);
    assert.equal(
      text.split(":\n").length - 1,
      1,
      `only the first comment: ${JSON.stringify(text)}`,
    );
    const ping = await readChunk(reader, 2_000);
    const idle = Date.now() - started;
    assert.equal(ping, ":\n");
    assert.ok(idle >= 300, `keep-alive after ${idle} ms`);
    await reader.cancel();
    stop.resolve();
  });

  test("keepAlive: false sends no comment after the first", async () => {
    const never = deferred();
    const response = createSSEStream(
      async function* () {
        await never.promise;
        yield "late";
      }(),
      { keepAlive: false },
    );
    const reader = response.body!.getReader();
    assert.equal(await readChunk(reader), ":\n");
    await assert.rejects(readChunk(reader, 300), /no chunk within/);
    await reader.cancel();
    never.resolve();
  });

  test("the default keep-alive is below Bun's 10 s idle timeout", () => {
    assert.ok(DEFAULT_KEEP_ALIVE > 0 && DEFAULT_KEEP_ALIVE < 10_000);
  });
});

describe("createSSEStream: frozen events shared between streams", () => {
  test("are written like any other event, alone or coalesced with others", async () => {
    const shared = Object.freeze({ event: "x", id: 1, data: "a\nb" });
    const text = (await readAll(createSSEStream([shared, "c", shared]))).join(
      "",
    );
    assert.equal(
      text,
      ":\n" + formatEvent(shared) + formatEvent("c") + formatEvent(shared),
    );
  });

  test("each stream gets its own bytes", async () => {
    const shared = Object.freeze({ data: "tick" });
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < 2; i++) {
      const reader = createSSEStream(async function* () {
        await sleep(1);
        yield shared;
      }()).body!.getReader();
      await reader.read();
      chunks.push((await reader.read()).value!);
      await reader.cancel();
    }
    assert.deepEqual(chunks[0], chunks[1]);
    assert.notEqual(chunks[0].buffer, chunks[1].buffer);
  });

  test("an error after a lone shared event is still written", async () => {
    const shared = Object.freeze({ data: "last" });
    const text = (await readAll(createSSEStream(
      async function* () {
        yield shared;
        throw new Error("x");
      }(),
      { onError: () => ({ event: "error", data: "e" }) },
    ))).join("");
    assert.equal(text, ":\ndata: last\n\nevent: error\ndata: e\n\n");
  });

  test("a frozen event with object data is serialized afresh (freezing is shallow)", async () => {
    const payload = { n: 1 };
    const event = Object.freeze({ data: payload });
    const first = (await readAll(createSSEStream([event]))).join("");
    payload.n = 2;
    const second = (await readAll(createSSEStream([event]))).join("");
    assert.deepEqual([first, second], [
      ':\ndata: {"n":1}\n\n',
      ':\ndata: {"n":2}\n\n',
    ]);
  });
});

describe("createSSEStream: cancellation", () => {
  test("cancelling the body runs the source's finally and aborts its signal", async () => {
    const cleaned = deferred();
    let signal: AbortSignal | undefined;
    const response = createSSEStream((s) => {
      signal = s;
      return async function* () {
        try {
          for (let i = 0;; i++) {
            yield `e${i}`;
            await sleep(5);
          }
        } finally {
          cleaned.resolve();
        }
      }();
    });
    const reader = response.body!.getReader();
    await readChunk(reader);
    await readChunk(reader);
    await reader.cancel("client left");
    await cleaned.promise;
    assert.equal(signal!.aborted, true);
    assert.equal(signal!.reason, "client left");
  });

  test("options.signal ends the stream cleanly and runs the source's finally", async () => {
    const cleaned = deferred();
    const aborter = new AbortController();
    const response = createSSEStream(
      async function* () {
        try {
          for (let i = 0;; i++) {
            yield `e${i}`;
            await sleep(5);
          }
        } finally {
          cleaned.resolve();
        }
      }(),
      { signal: aborter.signal },
    );
    const reader = response.body!.getReader();
    await readChunk(reader);
    await readChunk(reader);
    aborter.abort();
    while ((await readChunk(reader)) !== undefined);
    await cleaned.promise;
  });

  test("an already aborted signal gives a stream that ends after the first comment", async () => {
    let started = false;
    const chunks = await readAll(createSSEStream(
      function* () {
        started = true;
        yield "x";
      }(),
      { signal: AbortSignal.abort() },
    ));
    assert.deepEqual(chunks, [":\n"]);
    assert.equal(started, false);
  });

  test("a ReadableStream source is cancelled with the body", async () => {
    const cancelled = deferred<unknown>();
    const source = new ReadableStream<string>({
      pull: (controller) => controller.enqueue("x"),
      cancel: (reason) => cancelled.resolve(reason),
    }, { highWaterMark: 0 });
    const reader = createSSEStream(source).body!.getReader();
    await readChunk(reader);
    await reader.cancel("bye");
    assert.equal(await cancelled.promise, "bye");
  });

  test("a function source that resolves after cancellation is closed at once", async () => {
    const gate = deferred();
    const returned = deferred();
    let nextCalls = 0;
    const source: AsyncIterable<string> = {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          nextCalls++;
          return Promise.resolve({ done: false, value: "never read" });
        },
        return: () => {
          returned.resolve();
          return Promise.resolve({ done: true, value: undefined });
        },
      }),
    };
    const response = createSSEStream(async () => {
      await gate.promise;
      return source;
    });
    const reader = response.body!.getReader();
    await readChunk(reader);
    const pending = reader.read();
    await reader.cancel();
    await pending;
    gate.resolve();
    await returned.promise;
    assert.equal(nextCalls, 0);
  });
});

describe("createSSEStream: errors", () => {
  test("a throwing source ends with a generic error event that leaks nothing", async () => {
    const original = console.error;
    const logged: unknown[] = [];
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      const chunks = await readAll(createSSEStream(async function* () {
        yield "before";
        throw new Error("secret database password");
      }()));
      const text = chunks.join("");
      assert.match(text, /^:\ndata: before\n\nevent: error\ndata: [^\n]+\n\n$/);
      assert.doesNotMatch(text, /secret|password|at /);
      // JSON in the shape OpenAI-compatible clients (the official SDKs)
      // parse before they look at the event type (issue 12.4).
      const data = /event: error\ndata: ([^\n]+)/.exec(text)![1];
      assert.deepEqual(JSON.parse(data), {
        error: { message: "The event stream failed", type: "server_error" },
      });
      assert.equal(logged.length, 1, "the server operator is told");
    } finally {
      console.error = original;
    }
  });

  test("onError chooses what the client sees, or nothing", async () => {
    const failing = () =>
      (async function* () {
        yield "ok";
        throw new RangeError("boom");
      })();
    let seen: unknown;
    const custom = await readAll(createSSEStream(failing(), {
      onError: (error) => {
        seen = error;
        return { event: "failed", data: { retryable: true } };
      },
    }));
    assert.ok(seen instanceof RangeError);
    assert.equal(
      custom.join(""),
      ':\ndata: ok\n\nevent: failed\ndata: {"retryable":true}\n\n',
    );
    const silent = await readAll(createSSEStream(failing(), quiet));
    assert.equal(silent.join(""), ":\ndata: ok\n\n");
  });

  test("an invalid event is never written; its TypeError goes to onError and the source is closed", async () => {
    const cleaned = deferred();
    let seen: unknown;
    const chunks = await readAll(createSSEStream(
      async function* () {
        try {
          yield "fine";
          yield { id: "1\ndata: injected" };
          yield "never";
        } finally {
          cleaned.resolve();
        }
      }(),
      { onError: (error) => void (seen = error) },
    ));
    await cleaned.promise;
    assert.equal(chunks.join(""), ":\ndata: fine\n\n");
    assert.ok(seen instanceof TypeError);
    assert.match((seen as TypeError).message, /"id"/);
  });

  test("a throwing function source and a throwing onError still end the stream cleanly", async () => {
    const chunks = await readAll(createSSEStream(() => {
      throw new Error("cannot start");
    }, {
      onError: () => {
        throw new Error("handler bug");
      },
    }));
    assert.match(chunks.join(""), /^:\nevent: error\ndata: [^\n]+\n\n$/);
  });

  test("an invalid onError event falls back to the generic error event", async () => {
    const chunks = await readAll(createSSEStream(() => {
      throw new Error("x");
    }, { onError: () => ({ event: "bad\nname" }) }));
    assert.match(chunks.join(""), /^:\nevent: error\ndata: [^\n]+\n\n$/);
  });
});
