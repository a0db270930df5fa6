// Lifecycle hooks and sseMetrics over real sockets: every close reason is
// produced and reported once, the counters match what crossed the wire,
// the client's reconnections and the hub's resumes (memory and Redis
// stores) are reported, and the logger receives what console.error did.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { once } from "node:events";
import { connect } from "node:net";
import process from "node:process";
import { Redis } from "ioredis";
import {
  connectSSE,
  createHub,
  createSSEStream,
  memoryStore,
  relaySSE,
  type SSECloseInfo,
  type SSEHooks,
  sseMetrics,
  type SSEReconnectInfo,
  type SSEResumeInfo,
} from "../mod.ts";
import { redisStore } from "../src/redis.ts";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { createApp } from "../examples/metrics/prometheus.ts";
import { observeSSEMetrics } from "../examples/metrics/opentelemetry.ts";
import { createDemoApp } from "../examples/demo/app.ts";
import { RawClient } from "./support/raw_client.ts";
import { serve, serverKinds, withServer } from "./support/server.ts";
import { deferred } from "./support/deferred.ts";
import { sleep, until, within } from "./support/time.ts";

/** Hooks that record every call, by hook name. */
function recorder() {
  const calls: [string, unknown][] = [];
  const hooks: SSEHooks = {};
  for (
    const name of [
      "onOpen",
      "onClose",
      "onSend",
      "onError",
      "onResume",
      "onReconnect",
      "onSlowConsumer",
      "onReset",
      "onTailLag",
    ] as const
  ) {
    hooks[name] = (info: never) => void calls.push([name, info]);
  }
  const of = <T>(name: string) =>
    calls.filter(([n]) => n === name).map(([, info]) => info as T);
  return { hooks, calls, of };
}

/** A logger that keeps what it is given. */
function memoryLogger() {
  const lines: unknown[][] = [];
  return { lines, error: (...data: unknown[]) => void lines.push(data) };
}

/** Resolves with the first close the hooks report. */
function closed(hooks: SSEHooks): Promise<SSECloseInfo> {
  const done = deferred<SSECloseInfo>();
  const previous = hooks.onClose;
  hooks.onClose = (info) => {
    previous?.(info);
    done.resolve(info);
  };
  return within(done.promise, 10_000, "the close hook");
}

for (const kind of serverKinds) {
  describe(`close reasons and counters (${kind})`, () => {
    test("done: bytes counted are the bytes on the wire, keep-alives included", async () => {
      const metrics = sseMetrics();
      const record = recorder();
      const hooks: SSEHooks = {
        ...record.hooks,
        onSend: (info) => {
          record.hooks.onSend!(info);
          metrics.hooks.onSend!(info);
        },
        onOpen: (info) => {
          record.hooks.onOpen!(info);
          metrics.hooks.onOpen!(info);
        },
      };
      const close = closed(hooks);
      await withServer(kind, () =>
        createSSEStream(
          async function* () {
            yield { event: "greeting", data: "héllo wörld ✓" };
            // Long enough for keep-alives (every 40 ms) to go out between.
            await sleep(150);
            yield { data: { n: 1 }, id: "1" };
            yield "two\nlines";
          }(),
          { hooks, keepAlive: 40, retry: 500 },
        ), async (url) => {
        const client = new RawClient(url);
        await within(client.ended, 10_000, "the end of the body");
        const info = await close;
        metrics.hooks.onClose!(info);
        assert.equal(info.reason, "done");
        assert.equal(info.side, "server");
        assert.equal(info.events, 3);
        assert.equal(info.bytes, Buffer.byteLength(client.body));
        const keepAlives = client.body.split("\n").filter((line) =>
          line === ":"
        ).length;
        const snapshot = metrics.snapshot();
        assert.ok(snapshot.keepAlives >= 1, "some keep-alives went out");
        // The opening line is the retry field here, so every ":" line is one.
        assert.equal(snapshot.keepAlives, keepAlives);
        assert.equal(snapshot.bytesSent, Buffer.byteLength(client.body));
        assert.equal(snapshot.eventsSent, 3);
        assert.equal(snapshot.openStreams, 0);
        assert.equal(snapshot.streamsOpened, 1);
        assert.equal(snapshot.closed.done, 1);
        assert.equal(record.of("onOpen").length, 1);
        assert.equal(record.of("onClose").length, 1);
      });
    });

    test("client-left: the client disconnects mid-stream", async () => {
      const record = recorder();
      const close = closed(record.hooks);
      await withServer(kind, () =>
        createSSEStream(
          async function* () {
            for (let i = 0;; i++) {
              yield `tick ${i}`;
              await sleep(20);
            }
          }(),
          { hooks: record.hooks },
        ), async (url) => {
        const client = new RawClient(url);
        await client.waitFor("tick 1");
        client.close();
        const info = await close;
        assert.equal(info.reason, "client-left");
        assert.ok(info.events >= 2);
        await sleep(50);
        assert.equal(record.of("onClose").length, 1);
      });
    });

    test("client-left: a hub's client disconnects (request.signal aborts on some servers)", async () => {
      const record = recorder();
      const close = closed(record.hooks);
      const hub = createHub({ hooks: record.hooks });
      try {
        await withServer(
          kind,
          (request) => hub.response(request, "t"),
          async (url) => {
            const client = new RawClient(url);
            await client.waitFor(":\n");
            await until(
              () => Promise.resolve(hub.stats().subscribers),
              (n) => n === 1,
              "subscribed",
            );
            await hub.publish("t", "one");
            await client.waitFor("data: one");
            client.close();
            const info = await close;
            assert.equal(info.reason, "client-left");
          },
        );
      } finally {
        await hub.close();
      }
      assert.equal(record.of("onClose").length, 1);
    });

    test("aborted: options.signal aborts", async () => {
      const record = recorder();
      const close = closed(record.hooks);
      const aborter = new AbortController();
      await withServer(kind, () =>
        createSSEStream(
          async function* () {
            yield "first";
            await new Promise(() => {}); // Only the abort ends it.
          }(),
          { hooks: record.hooks, signal: aborter.signal },
        ), async (url) => {
        const client = new RawClient(url);
        await client.waitFor("first");
        aborter.abort();
        const info = await close;
        assert.equal(info.reason, "aborted");
        await within(client.ended, 10_000, "the end of the body");
        assert.equal(info.bytes, Buffer.byteLength(client.body));
        assert.equal(record.of("onClose").length, 1);
      });
    });

    test("error: the source throws; onError and the logger hear of it, not console.error", async () => {
      const record = recorder();
      const close = closed(record.hooks);
      const logger = memoryLogger();
      const boom = new Error("boom");
      const consoleError = console.error;
      const seen: unknown[] = [];
      console.error = (...data: unknown[]) => void seen.push(data);
      try {
        await withServer(kind, () =>
          createSSEStream(
            async function* () {
              yield "first";
              throw boom;
            }(),
            { hooks: record.hooks, logger },
          ), async (url) => {
          const client = new RawClient(url);
          await within(client.ended, 10_000, "the end of the body");
          const info = await close;
          assert.equal(info.reason, "error");
          assert.equal(info.error, boom);
          // The error event counts: it was sent.
          assert.equal(info.events, 2);
          assert.equal(info.bytes, Buffer.byteLength(client.body));
        });
      } finally {
        console.error = consoleError;
      }
      assert.deepEqual(record.of("onError"), [{
        where: "stream",
        error: boom,
      }]);
      assert.deepEqual(logger.lines, [[
        "ssekit: the event source failed:",
        boom,
      ]]);
      assert.deepEqual(seen, []);
    });

    test("stalled: a client that stops reading is given up", async () => {
      const record = recorder();
      const close = closed(record.hooks);
      await withServer(kind, () =>
        createSSEStream(
          async function* () {
            for (;;) yield "x".repeat(1_000);
          }(),
          { hooks: record.hooks, stallTimeout: 300 },
        ), async (url) => {
        const { port } = new URL(url);
        const socket = connect(Number(port), "127.0.0.1");
        socket.on("error", () => {});
        socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        await once(socket, "data");
        socket.pause();
        const info = await close;
        assert.equal(info.reason, "stalled");
        assert.equal((info.error as DOMException).name, "TimeoutError");
        socket.destroy();
        assert.equal(record.of("onClose").length, 1);
      });
    });

    test("slow-consumer: a hub subscriber out of history is cut off", async () => {
      const record = recorder();
      const close = closed(record.hooks);
      const hub = createHub({
        store: memoryStore({ max: 2 }),
        maxQueue: 2,
        hooks: record.hooks,
      });
      try {
        await withServer(
          kind,
          (request) => hub.response(request, "t"),
          async (url) => {
            const client = new RawClient(url);
            await client.waitFor(":\n");
            await until(
              () => Promise.resolve(hub.stats().subscribers),
              (n) => n === 1,
              "subscribed",
            );
            await sleep(20);
            // A burst no socket takes at once, past what history keeps:
            // each event fills a socket's write buffer (16 KiB on Node),
            // and a subscriber whose socket takes events as they come is
            // not slow, however many a burst brings.
            const big = "x".repeat(20_000);
            for (let i = 0; i < 20; i++) void hub.publish("t", `${big}${i}`);
            const info = await close;
            assert.equal(info.reason, "slow-consumer");
            await within(client.ended, 10_000, "the end of the body");
          },
        );
      } finally {
        await hub.close();
      }
      assert.deepEqual(record.of("onSlowConsumer"), [
        { topic: "t", action: "disconnect" },
      ]);
      assert.equal(record.of("onClose").length, 1);
    });
  });
}

describe("relaySSE hooks", () => {
  test("a relay's batches are counted event by event", async () => {
    const record = recorder();
    const close = closed(record.hooks);
    await withServer(serverKinds[0], () =>
      relaySSE(
        createSSEStream(["a", { event: "b", data: "two\nlines" }, "c"]),
        { hooks: record.hooks },
      ), async (url) => {
      const client = new RawClient(url);
      await within(client.ended, 10_000, "the end of the body");
      const info = await close;
      assert.equal(info.reason, "done");
      assert.equal(info.events, 3);
      assert.equal(info.bytes, Buffer.byteLength(client.body));
    });
  });
});

describe("hub hooks", () => {
  test("drop-oldest reports each drop and the overflow reset", async () => {
    const metrics = sseMetrics();
    const hub = createHub({
      maxQueue: 2,
      slow: "drop-oldest",
      hooks: metrics.hooks,
    });
    try {
      const sub = hub.subscribe("t");
      for (let i = 0; i < 5; i++) await hub.publish("t", `e${i}`);
      const first = await sub.next();
      assert.deepEqual(first.value, { event: "reset", data: "overflow" });
      await sub.return!();
      const snapshot = metrics.snapshot();
      assert.equal(snapshot.slowConsumerDrops, 3);
      assert.equal(snapshot.resetsServed, 1);
      assert.equal(snapshot.slowConsumerDisconnects, 0);
    } finally {
      await hub.close();
    }
  });

  test("a hook that throws is logged and changes nothing", async () => {
    const logger = memoryLogger();
    const thrown = new Error("hook");
    await withServer(serverKinds[0], () =>
      createSSEStream(["a", "b"], {
        hooks: {
          onSend() {
            throw thrown;
          },
        },
        logger,
      }), async (url) => {
      const client = new RawClient(url);
      await within(client.ended, 10_000, "the end of the body");
      assert.equal(client.body, ":\ndata: a\n\ndata: b\n\n");
    });
    assert.ok(logger.lines.length >= 2);
    assert.deepEqual(logger.lines[0], [
      "ssekit: the onSend hook threw:",
      thrown,
    ]);
  });

  test("invalid hooks or logger throw at once", () => {
    assert.throws(
      () => createSSEStream([], { hooks: 5 as unknown as SSEHooks }),
      TypeError,
    );
    assert.throws(
      () => createHub({ logger: {} as unknown as Console }),
      TypeError,
    );
  });
});

describe("resume hooks (memory store)", () => {
  test("from-id, replayed and gap are reported once per resume", async () => {
    const record = recorder();
    const metrics = sseMetrics();
    const hub = createHub({
      history: { max: 3 },
      hooks: {
        onResume: (info) => {
          record.hooks.onResume!(info);
          metrics.hooks.onResume!(info);
        },
        onReset: metrics.hooks.onReset,
      },
    });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await hub.publish("t", `e${i}`));
      await withServer(
        serverKinds[0],
        (request) => hub.response(request, "t"),
        async (url) => {
          // ids[2] is the oldest kept: after it, two replayed, no gap.
          const a = new RawClient(url, { "Last-Event-ID": ids[2] });
          await a.waitFor("data: e4");
          // ids[0] was trimmed: a gap, then all three kept.
          const b = new RawClient(url, { "Last-Event-ID": ids[0] });
          await b.waitFor("data: e4");
          assert.match(b.body, /event: reset\ndata: history/);
          // Live only: no resume.
          const c = new RawClient(url);
          await c.waitFor(":\n");
          await until(
            () => Promise.resolve(record.of("onResume").length),
            (n) => n === 2,
            "two resumes",
          );
          for (const client of [a, b, c]) client.close();
        },
      );
      assert.deepEqual(record.of<SSEResumeInfo>("onResume"), [
        { topic: "t", lastEventId: ids[2], replayed: 2, gap: false },
        { topic: "t", lastEventId: ids[0], replayed: 3, gap: true },
      ]);
      const snapshot = metrics.snapshot();
      assert.equal(snapshot.resumes, 2);
      assert.equal(snapshot.replayedEvents, 5);
      assert.equal(snapshot.resumeGaps, 1);
      assert.equal(snapshot.resetsServed, 1);
    } finally {
      await hub.close();
    }
  });
});

describe("connectSSE hooks", () => {
  test("reconnect sees attempt, delay and status; open and close are paired", async () => {
    const record = recorder();
    let requests = 0;
    const server = await serve(() => {
      requests++;
      if (requests === 1) return new Response("busy", { status: 503 });
      if (requests === 2) return createSSEStream(["one", "two"]);
      return new Response(null, { status: 204 });
    });
    try {
      const messages: string[] = [];
      for await (
        const message of connectSSE(server.url, {
          reconnect: { delay: 10, backoff: 0, retryStatus: true },
          hooks: record.hooks,
        })
      ) messages.push(message.data);
      assert.deepEqual(messages, ["one", "two"]);
    } finally {
      await server.close();
    }
    const reconnects = record.of<SSEReconnectInfo>("onReconnect");
    assert.equal(reconnects.length, 2);
    assert.deepEqual(
      { ...reconnects[0], error: undefined },
      { where: "client", attempt: 1, delay: 10, status: 503, error: undefined },
    );
    assert.equal(reconnects[0].error?.constructor.name, "SSEResponseError");
    assert.deepEqual(reconnects[1], { where: "client", attempt: 0, delay: 10 });
    assert.deepEqual(record.of("onOpen"), [{
      side: "client",
      url: server.url,
    }]);
    const [close] = record.of<SSECloseInfo>("onClose");
    assert.equal(record.of("onClose").length, 1);
    assert.equal(close.reason, "done");
    assert.equal(close.events, 2);
    assert.equal(
      close.bytes,
      Buffer.byteLength(":\ndata: one\n\ndata: two\n\n"),
    );
  });

  test("close() while open reports aborted; metrics count the open connection", async () => {
    const metrics = sseMetrics();
    const server = await serve(() =>
      createSSEStream(async function* () {
        yield "first";
        await new Promise(() => {}); // Only the client's leaving ends it.
      }())
    );
    try {
      const record = recorder();
      const connection = connectSSE(server.url, {
        hooks: {
          ...metrics.hooks,
          onClose(info) {
            metrics.hooks.onClose!(info);
            record.hooks.onClose!(info);
          },
        },
      });
      await connection.next();
      assert.equal(metrics.snapshot().openConnections, 1);
      connection.close();
      const [close] = record.of<SSECloseInfo>("onClose");
      assert.equal(close.reason, "aborted");
      assert.equal(close.events, 1);
      assert.equal(metrics.snapshot().openConnections, 0);
    } finally {
      await server.close();
    }
  });

  test("a fatal error is reported as error, to onError too", async () => {
    const record = recorder();
    const server = await serve(() => new Response("no", { status: 500 }));
    try {
      await assert.rejects(async () => {
        for await (const _ of connectSSE(server.url, { hooks: record.hooks })) {
          // Never reached.
        }
      }, { name: "SSEResponseError" });
    } finally {
      await server.close();
    }
    assert.equal(record.of("onError").length, 1);
    assert.equal(record.of("onOpen").length, 0);
    assert.equal(record.of("onClose").length, 0);
  });
});

describe("ssekit/node logger", () => {
  test("a failed request goes to the logger instead of console.error", async () => {
    const { serve: serveNode } = await import("../src/node.ts");
    const logger = memoryLogger();
    const failure = new Error("handler");
    const server = await serveNode(() => {
      throw failure;
    }, { hostname: "127.0.0.1", port: 0, onListen() {}, logger });
    try {
      const response = await fetch(server.url);
      assert.equal(response.status, 500);
      await response.body?.cancel();
    } finally {
      await server.close();
    }
    assert.deepEqual(logger.lines, [[
      "ssekit/node: a request failed:",
      failure,
    ]]);
  });
});

describe("examples/metrics", () => {
  test("prometheus.ts serves the counters in the text exposition format", async () => {
    const { handler, hub } = createApp();
    try {
      await withServer(serverKinds[0], handler, async (url) => {
        const client = new RawClient(new URL("/news", url).href);
        await client.waitFor(":\n");
        await until(
          () => Promise.resolve(hub.stats().subscribers),
          (n) => n === 1,
          "subscribed",
        );
        await hub.publish("news", "hello");
        await client.waitFor("data: hello");
        const response = await fetch(new URL("/metrics", url));
        assert.match(
          response.headers.get("content-type")!,
          /^text\/plain; version=0\.0\.4/,
        );
        const text = await response.text();
        client.close();
        const samples = new Map<string, number>();
        for (const line of text.trimEnd().split("\n")) {
          if (line.startsWith("#")) {
            assert.match(
              line,
              /^# (HELP [a-z_]+ .+|TYPE [a-z_]+ (counter|gauge))$/,
            );
            continue;
          }
          const match = /^([a-z_]+(?:\{reason="[a-z-]+"\})?) (-?[0-9.e+-]+)$/
            .exec(line);
          assert.ok(match, `a sample line: ${line}`);
          samples.set(match[1], Number(match[2]));
        }
        assert.equal(samples.get("sse_open_streams"), 1);
        assert.equal(samples.get("sse_events_sent_total"), 1);
        assert.equal(
          samples.get("sse_bytes_sent_total"),
          Buffer.byteLength(client.body),
        );
        assert.equal(samples.get('sse_streams_closed_total{reason="done"}'), 0);
      });
    } finally {
      await hub.close();
    }
  });

  test("opentelemetry.ts feeds a real MeterProvider", async () => {
    class Reader extends MetricReader {
      protected onForceFlush(): Promise<void> {
        return Promise.resolve();
      }
      protected onShutdown(): Promise<void> {
        return Promise.resolve();
      }
    }
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const metrics = sseMetrics();
    observeSSEMetrics(provider.getMeter("ssekit"), metrics);
    await withServer(
      serverKinds[0],
      () => createSSEStream(["a", "b", "c"], { hooks: metrics.hooks }),
      async (url) => {
        const client = new RawClient(url);
        await within(client.ended, 10_000, "the end of the body");
        await until(
          () => Promise.resolve(metrics.snapshot().closed.done),
          (n) => n === 1,
          "closed",
        );
      },
    );
    const { resourceMetrics, errors } = await reader.collect();
    assert.deepEqual(errors, []);
    const all = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
    const value = (name: string, reason?: string) => {
      const metric = all.find((m) => m.descriptor.name === name);
      assert.ok(metric, name);
      const point = metric.dataPoints.find((p) =>
        p.attributes.reason === reason
      );
      return point?.value;
    };
    assert.equal(value("sse.events.sent"), 3);
    assert.equal(value("sse.streams.open"), 0);
    assert.equal(value("sse.streams.closed", "done"), 1);
    assert.equal(
      value("sse.bytes.sent"),
      Buffer.byteLength(":\ndata: a\n\ndata: b\n\ndata: c\n\n"),
    );
    await provider.shutdown();
  });
});

describe("examples/demo", () => {
  test("the counters beside the panels count the feed's streams, live", async () => {
    let origin = "";
    const app = createDemoApp({
      clientScript: "",
      origin: () => origin,
      tickInterval: 50,
    });
    try {
      await withServer(serverKinds[0], app.fetch, async (url) => {
        origin = url.slice(0, -1);
        const feed = new RawClient(new URL("/feed", url).href);
        await feed.waitFor("event: tick");
        const snapshot = await (await fetch(new URL("/metrics", url))).json();
        assert.equal(snapshot.openStreams, 1);
        assert.ok(snapshot.eventsSent >= 1);
        feed.close();
        await until(
          async () => (await (await fetch(new URL("/metrics", url))).json()),
          (now) => now.openStreams === 0,
          "the feed's close counted",
        );
      });
    } finally {
      await app.close();
    }
  });
});

const redisUrl = process.env.SSEKIT_REDIS_URL;
describe("Redis store hooks", {
  skip: redisUrl ? false : "SSEKIT_REDIS_URL is not set",
}, () => {
  const store = (hooks: SSEHooks) =>
    redisStore({
      redis: redisUrl,
      prefix: `ssekit-test:metrics:${process.pid}:${Date.now()}:`,
      max: 3,
      hooks,
      reconnect: { min: 20, max: 100 },
    });

  test(
    "resume reports from-id, replayed and gap; the tail's lag and reconnects are reported",
    {
      timeout: 60_000,
    },
    async () => {
      const record = recorder();
      const metrics = sseMetrics();
      const both: SSEHooks = {};
      for (const name of Object.keys(record.hooks) as (keyof SSEHooks)[]) {
        both[name] = (info: never) => {
          record.hooks[name]!(info);
          metrics.hooks[name]?.(info);
        };
      }
      const hub = createHub({ store: store(both), hooks: both });
      const admin = new Redis(redisUrl!);
      try {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push(await hub.publish("t", `e${i}`));
        const a = hub.subscribe("t", { lastEventId: ids[2] });
        assert.deepEqual([
          (await a.next()).value!.data,
          (await a.next()).value!.data,
        ], ["e3", "e4"]);
        const b = hub.subscribe("t", { lastEventId: ids[0] });
        assert.equal((await b.next()).value!.event, "reset");
        await until(
          () => Promise.resolve(record.of("onResume").length),
          (n) => n === 2,
          "two resumes",
        );
        assert.deepEqual(record.of<SSEResumeInfo>("onResume"), [
          { topic: "t", lastEventId: ids[2], replayed: 2, gap: false },
          { topic: "t", lastEventId: ids[0], replayed: 3, gap: true },
        ]);
        // A live entry through the tail: its lag is measured.
        await hub.publish("t", "live");
        assert.equal((await a.next()).value!.data, "live");
        const lags = record.of<{ topic: string; lag: number }>("onTailLag");
        assert.ok(lags.length >= 1);
        assert.ok(
          lags.every(({ lag }) => lag >= -1_000 && lag < 10_000),
          JSON.stringify(lags),
        );
        // The tail's connection killed: a reconnection is reported.
        const list = String(await admin.client("LIST"));
        const tails = list.split("\n").filter((line) =>
          line.includes("name=ssekit-tail")
        )
          .map((line) => /id=(\d+)/.exec(line)![1]);
        for (const id of tails) await admin.client("KILL", "ID", id);
        await until(
          () => Promise.resolve(record.of("onReconnect").length),
          (n) => n >= 1,
          "a reconnect",
        );
        const [reconnect] = record.of<SSEReconnectInfo>("onReconnect");
        assert.equal(reconnect.where, "store");
        assert.equal(reconnect.attempt, 1);
        assert.equal(reconnect.delay, 20);
        assert.ok(metrics.snapshot().redisReconnects >= 1);
        await a.return!();
        await b.return!();
      } finally {
        await hub.close();
        admin.disconnect();
      }
    },
  );
});
