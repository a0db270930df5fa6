/**
 * One server of bench/fanout.ts, as its own process: `deno run -A
 * --v8-flags=--expose-gc bench/_fanout_server.ts`, `bun
 * bench/_fanout_server.ts` or `node --expose-gc
 * .build/bench-out/bench/_fanout_server.js`, with BENCH_IMPL (one of
 * {@linkcode IMPLS}) and BENCH_KEEP_ALIVE (ms) set. Every stream is
 * `GET /` on one topic; the events are published here, so a publish costs
 * no request.
 *
 * - `ssekit`: `hub.response(request, topic, { keepAlive })` on a memory
 *   store, served by Deno.serve, Bun.serve or `ssekit/node`;
 * - `plain`: what a hand-written server does. On Node, `res.write(text)`
 *   per stream; on Deno and Bun, a `ReadableStream` per stream and
 *   `controller.enqueue(bytes)` of one `TextEncoder`-encoded event shared
 *   by all; keep-alive from one shared `setInterval`;
 * - `plain-bytes` (Node only): `res.write(bytes)`, the event encoded once;
 * - `plain-copy` (Node only, not in the default set): `res.write()` of a
 *   copy of those bytes per stream, as ssekit's flush does (`slice()`);
 * - `better-sse`: a `Channel` with every session registered,
 *   `channel.broadcast()` (Node: `createSession(req, res)` on node:http;
 *   Deno, Bun: `createResponse(request)`), its own keep-alive timer per
 *   session;
 * - `hono`: `streamSSE`, one `writeSSE()` per stream, keep-alive from one
 *   shared `setInterval` (Node: @hono/node-server).
 *
 * Each event is `id: <sequence>` and `data: <sequence> <publish time, µs
 * since the epoch>`, or as close to it as the library goes (better-sse
 * JSON-encodes strings and adds `event: message`).
 *
 * Driven by JSON lines on stdin (see bench/_proc.ts startJsonWorker);
 * answers `{ id, ok, … }`:
 *
 * - `info`: its URL, pid and runtime;
 * - `stats { gc }`: open streams and memory, after a full collection
 *   with `gc`;
 * - `publish { count, rate }`: publishes `count` events, `rate` per second
 *   on a timer, or with `rate` 0 back to back, one per task
 *   (`setImmediate`), so the server's I/O runs between them; answers when
 *   the last is published.
 *
 * Exits when stdin ends.
 *
 * @module
 */

import { createServer, type ServerResponse } from "node:http";
import process from "node:process";
import { createChannel, createResponse, createSession } from "better-sse";
import { Hono } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import { createHub } from "../src/hub.ts";
import { serve } from "../tests/support/server.ts";
import { collectGarbage, runtime, runtimeVersion, sleep } from "./_util.ts";
import { answerCommands, nowMicros } from "./_fanout_worker.ts";

/** The implementations, as BENCH_IMPL names them. */
export const IMPLS = [
  "ssekit",
  "plain",
  "plain-bytes",
  "plain-copy",
  "better-sse",
  "hono",
] as const;
export type ImplName = typeof IMPLS[number];

const impl = process.env.BENCH_IMPL as ImplName;
if (!IMPLS.includes(impl)) throw new TypeError(`BENCH_IMPL: ${impl}`);
if (impl.startsWith("plain-") && runtime !== "node") {
  throw new TypeError(`${impl} is a Node baseline only`);
}
const keepAlive = Number(process.env.BENCH_KEEP_ALIVE);
if (!(keepAlive > 0)) throw new RangeError("BENCH_KEEP_ALIVE: milliseconds");

const TOPIC = "fanout";
const HEADERS = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache",
};
const encoder = new TextEncoder();
const COMMENT = encoder.encode(":\n");

/** What each implementation does; the rest of the process is shared. */
interface Server {
  url: string;
  streams(): number;
  publish(seq: number, data: string): void;
}

function listen(
  server: ReturnType<typeof createServer>,
): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as { port: number };
      resolve(`http://127.0.0.1:${address.port}/`);
    })
  );
}

async function ssekit(): Promise<Server> {
  const hub = createHub();
  const server = await serve((request) =>
    hub.response(request, TOPIC, { keepAlive })
  );
  return {
    url: server.url,
    streams: () => hub.stats().subscribers,
    publish: (_seq, data) => void hub.publish(TOPIC, data),
  };
}

/**
 * node:http, `res.write()` per stream: text, bytes encoded once, or a copy
 * of them per stream.
 */
async function plainNode(write: "text" | "bytes" | "copy"): Promise<Server> {
  const open = new Set<ServerResponse>();
  const server = createServer((_req, res) => {
    res.writeHead(200, HEADERS);
    res.write(":\n");
    open.add(res);
    res.on("close", () => open.delete(res));
  });
  server.keepAliveTimeout = 0;
  setInterval(() => {
    for (const res of open) res.write(":\n");
  }, keepAlive);
  return {
    url: await listen(server),
    streams: () => open.size,
    publish(seq, data) {
      const text = `id: ${seq}\ndata: ${data}\n\n`;
      if (write === "text") {
        for (const res of open) res.write(text);
        return;
      }
      const bytes = encoder.encode(text);
      if (write === "bytes") { for (const res of open) res.write(bytes); }
      else for (const res of open) res.write(bytes.slice());
    },
  };
}

/** A `ReadableStream` per stream; every stream enqueues the same bytes. */
async function plainFetch(): Promise<Server> {
  const open = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const server = await serve((request) => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
        c.enqueue(COMMENT);
        open.add(c);
      },
      cancel: () => void open.delete(controller),
    });
    request.signal.addEventListener("abort", () => open.delete(controller));
    return new Response(body, { headers: HEADERS });
  });
  const write = (bytes: Uint8Array) => {
    for (const controller of open) {
      try {
        controller.enqueue(bytes);
      } catch {
        open.delete(controller); // closed by the runtime: the client left
      }
    }
  };
  setInterval(() => write(COMMENT), keepAlive);
  return {
    url: server.url,
    streams: () => open.size,
    publish: (seq, data) =>
      write(encoder.encode(`id: ${seq}\ndata: ${data}\n\n`)),
  };
}

async function betterSse(): Promise<Server> {
  const channel = createChannel();
  const options = { keepAlive, retry: null };
  let url: string;
  if (runtime === "node") {
    const server = createServer(async (req, res) => {
      channel.register(await createSession(req, res, options));
    });
    url = await listen(server);
  } else {
    url = (await serve((request) =>
      createResponse(
        request,
        options,
        (session) => void channel.register(session),
      )
    )).url;
  }
  return {
    url,
    streams: () => channel.sessionCount,
    publish: (seq, data) =>
      void channel.broadcast(data, "message", { eventId: String(seq) }),
  };
}

async function hono(): Promise<Server> {
  const open = new Set<SSEStreamingApi>();
  const app = new Hono();
  app.get("*", (c) =>
    streamSSE(c, async (stream) => {
      open.add(stream);
      await stream.write(":\n");
      await new Promise<void>((resolve) => stream.onAbort(resolve));
      open.delete(stream);
    }));
  setInterval(() => {
    for (const stream of open) void stream.write(":\n");
  }, keepAlive);
  let url: string;
  if (runtime === "node") {
    const { serve: serveNode } = await import("@hono/node-server");
    url = await new Promise((resolve) => {
      serveNode(
        { fetch: app.fetch, hostname: "127.0.0.1", port: 0 },
        (info) => resolve(`http://127.0.0.1:${info.port}/`),
      );
    });
  } else {
    url = (await serve((request) => app.fetch(request))).url;
  }
  return {
    url,
    streams: () => open.size,
    publish(seq, data) {
      const event = { id: String(seq), data };
      for (const stream of open) void stream.writeSSE(event);
    },
  };
}

const server = impl === "ssekit"
  ? await ssekit()
  : impl === "plain"
  ? await (runtime === "node" ? plainNode("text") : plainFetch())
  : impl === "plain-bytes"
  ? await plainNode("bytes")
  : impl === "plain-copy"
  ? await plainNode("copy")
  : impl === "better-sse"
  ? await betterSse()
  : await hono();

let seq = 0;
const immediate = (globalThis as unknown as {
  setImmediate(callback: () => void): void;
}).setImmediate;
const nextTask = () => new Promise<void>((resolve) => immediate(resolve));

/** Publishes `count` events, `rate` per second (0: one per task). */
async function publish(count: number, rate: number) {
  const first = nowMicros();
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    if (rate > 0) {
      const due = start + (i * 1_000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    } else if (i > 0) await nextTask();
    server.publish(seq, `${seq} ${nowMicros()}`);
    seq++;
  }
  return { published: seq, first, last: nowMicros() };
}

async function stats(gc: boolean) {
  if (gc) {
    for (let i = 0; i < 3; i++) {
      collectGarbage();
      await sleep(20);
    }
  }
  const { rss, heapUsed } = process.memoryUsage();
  return { streams: server.streams(), rss, heapUsed };
}

answerCommands({
  info: () => ({
    url: server.url,
    pid: process.pid,
    runtime: runtimeVersion(),
  }),
  stats,
  publish,
}, () => process.exit(0));
