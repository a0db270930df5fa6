/**
 * The Node adapter benchmark: `createSSEStream` served through
 * `ssekit/node` next to a plain `node:http` server that calls `res.write`
 * once per event, over loopback in the same run: events per second, time
 * to first event, and memory per idle SSE connection. The memory
 * measurement adds a third server, the fetch floor: the least a
 * fetch-handler adapter on `node:http` holds per idle SSE connection when it
 * reads the response body as a stream (a `Request`, a `Response` whose
 * stream waits on the broadcast, and a pending read). ssekit/node does not
 * read a `createSSEStream` body as a stream, so it can go below the floor.
 *
 * The servers run in a child process of the same runtime, so the client's
 * work and memory stay out of their numbers; every memory round gets a
 * fresh child. Run it with `deno run -A bench/node.ts`, `bun bench/node.ts`
 * (both through their `node:http`), or on Node compiled by
 * `bench/tsconfig.json`; `npm run bench` runs all three and appends the
 * results to `bench/results.md`. `--json` prints machine-readable results;
 * `--events=N`, `--rounds=N` and `--connections=N` shrink a run.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { connect, type Socket } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createSSEStream } from "../mod.ts";
import { serve } from "../src/node.ts";
import { timeToFirstEvent } from "./_serve.ts";
import { lineReader } from "./_proc.ts";
import { TOKEN } from "../tests/support/corpus.ts";
import {
  collectGarbage,
  fixed,
  median,
  numberArg,
  printResults,
  rotate,
  runtime,
  runtimeVersion,
  scriptArgs,
  sleep,
  table,
} from "./_util.ts";

const args = scriptArgs();

const EVENTS = numberArg("events", 100_000);
const ROUNDS = numberArg("rounds", 5);
const CONNECTIONS = numberArg("connections", 1_000);
const MIN_ROUNDS = Math.min(3, ROUNDS);
const MEMORY_ROUNDS = Math.min(3, ROUNDS);
const RUN_TIMEOUT_MS = 30_000;
const THROUGHPUT_BUDGET_MS = 60_000;
const TTFB_REQUESTS = 50;
const TTFB_WARMUP = 5;
const TTFB_TIMEOUT_MS = 2_000;
// The first event is followed by this much silence, so a stream that holds
// an event back until the next one shows it plainly.
const TTFB_HOLD_MS = 200;
// Connections opened at once while filling a server with idle ones; more
// would overflow the listen backlog.
const OPEN_BATCH = 100;
const KEEP_ALIVE_MS = 5_000;
const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};
const IMPLS = ["ssekit", "plain"] as const;
type ImplName = (typeof IMPLS)[number];
// The fetch floor is measured for memory only: what reading the body as a
// stream costs, not an SSE server to race.
const MEMORY_IMPLS = [...IMPLS, "floor"] as const;
type MemoryImplName = (typeof MEMORY_IMPLS)[number];

function log(message: string): void {
  console.error(`[${runtimeVersion()} node:http] ${message}`);
}

// ---------------------------------------------------------------------------
// The servers (child process)

async function* tokens(count: number): AsyncGenerator<string> {
  for (let index = 0; index < count; index++) yield TOKEN;
}

async function* firstThenHold(): AsyncGenerator<string> {
  yield TOKEN;
  await sleep(TTFB_HOLD_MS);
}

// Idle connections wait on a broadcast that never comes, the way a chat or
// notification stream waits; each server subscribes in its own idiom.
const subscribers = new Set<(text: string) => void>();

async function* subscription(): AsyncGenerator<string> {
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  const subscriber = (text: string) => {
    queue.push(text);
    wake?.();
  };
  subscribers.add(subscriber);
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      await new Promise<void>((resolve) => wake = resolve);
    }
  } finally {
    subscribers.delete(subscriber);
  }
}

function ssekitHandler(request: Request): Response {
  const { pathname } = new URL(request.url);
  const source = pathname === "/stream"
    ? tokens(EVENTS)
    : pathname === "/first"
    ? firstThenHold()
    : subscription();
  return createSSEStream(source, { signal: request.signal });
}

// Resolves when `res` can take more, or will take nothing more. Each wait
// removes both its listeners, so a long stream does not pile up "close"
// listeners and slow the baselines down.
function writable(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const settle = () => {
      res.off("drain", settle);
      res.off("close", settle);
      resolve();
    };
    res.on("drain", settle);
    res.on("close", settle);
  });
}

// What a hand-written SSE endpoint on node:http does: the head and a first
// comment at once, then one res.write per event, pausing when it reports a
// full buffer, and a keep-alive comment on a timer.
async function plainListener(
  path: string | undefined,
  res: ServerResponse,
): Promise<void> {
  res.writeHead(200, SSE_HEADERS);
  res.write(":\n");
  if (path === "/idle") {
    const subscriber = (text: string) => res.write(`data: ${text}\n\n`);
    const keepAlive = setInterval(() => res.write(":\n"), KEEP_ALIVE_MS);
    subscribers.add(subscriber);
    res.once("close", () => {
      clearInterval(keepAlive);
      subscribers.delete(subscriber);
    });
    return;
  }
  const source = path === "/stream" ? tokens(EVENTS) : firstThenHold();
  for await (const token of source) {
    if (res.destroyed) return;
    if (!res.write(`data: ${token}\n\n`)) await writable(res);
  }
  res.end();
}

const encoder = new TextEncoder();
const COMMENT = encoder.encode(":\n");

// The least a fetch handler can answer an idle SSE request with: a stream
// that sends the first comment, one enqueue per broadcast and the plain
// server's keep-alive timer, and unsubscribes when cancelled.
function floorHandler(_request: Request): Response {
  let subscriber: (text: string) => void;
  let keepAlive: ReturnType<typeof setInterval>;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(COMMENT);
      subscriber = (text) =>
        controller.enqueue(encoder.encode(`data: ${text}\n\n`));
      subscribers.add(subscriber);
      keepAlive = setInterval(() => controller.enqueue(COMMENT), KEEP_ALIVE_MS);
    },
    cancel() {
      clearInterval(keepAlive);
      subscribers.delete(subscriber);
    },
  });
  return new Response(body, { headers: SSE_HEADERS });
}

// The least a fetch-handler adapter on node:http does for a GET, up to the
// head: a Request with the URL, method, headers and `signal`, the
// handler's status and headers, and a reader of its body. In a frame of its
// own, as a suspended async function keeps its locals: the Request and the
// Response are garbage once this returns unless the handler keeps them.
function floorHead(
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
): ReadableStreamDefaultReader<Uint8Array> {
  const headers: [string, string][] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.push([raw[i], raw[i + 1]]);
  const response = floorHandler(
    new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers,
      signal,
    }),
  );
  res.writeHead(response.status, [...response.headers].flat());
  return response.body!.getReader();
}

// Then each chunk as it is read, waiting for the socket only when it is
// full, and the signal aborted and the body cancelled when the client
// leaves. No error handling, no request body.
async function floorListener(
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const aborter = new AbortController();
  const reader = floorHead(req, res, aborter.signal);
  res.once("close", () => {
    aborter.abort();
    reader.cancel().catch(() => {});
  });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!res.write(value)) await writable(res);
  }
  res.end();
}

/** Starts a node:http server on a loopback port of its own. */
async function listen(
  listener: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): Promise<number> {
  const server = createServer((req, res) => {
    listener(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve())
  );
  return (server.address() as { port: number }).port;
}

/** Answers the parent's commands, one a line, with a line of JSON each. */
async function answer(command: string): Promise<unknown> {
  if (command === "broadcast") {
    const reached = subscribers.size;
    for (const subscriber of [...subscribers]) subscriber(TOKEN);
    return { reached };
  }
  // Several passes, with turns between them for finalizers and timers.
  for (let pass = 0; pass < 3; pass++) {
    collectGarbage();
    await sleep(50);
  }
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

async function runServers(): Promise<void> {
  const ssekit = await serve(ssekitHandler, {
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  });
  const ports: Record<MemoryImplName, number> = {
    ssekit: ssekit.port,
    plain: await listen((req, res) => plainListener(req.url, res)),
    floor: await listen(floorListener),
  };
  process.stdout.write(JSON.stringify(ports) + "\n");
  process.stdin.setEncoding("utf8");
  // The parent sends a command only once the previous one is answered.
  process.stdin.on("data", async (text: string) => {
    const reply = await answer(text.trim());
    process.stdout.write(JSON.stringify(reply) + "\n");
  });
  process.stdin.once("end", () => process.exit(0));
}

// ---------------------------------------------------------------------------
// The client (parent process)

interface Child {
  ports: Record<MemoryImplName, number>;
  /** Heap and resident memory after garbage collection, in bytes. */
  memory(): Promise<{ heapUsed: number; rss: number }>;
  /** Sends every idle connection an event; resolves with how many it reached. */
  broadcast(): Promise<number>;
  stop(): void;
}

function childCommand(): { command: string; args: string[] } {
  const script = fileURLToPath(import.meta.url);
  if (runtime === "deno") {
    return {
      command: process.execPath,
      args: ["run", "-A", "--v8-flags=--expose-gc", script],
    };
  }
  if (runtime === "bun") return { command: process.execPath, args: [script] };
  return { command: process.execPath, args: ["--expose-gc", script] };
}

async function startChild(): Promise<Child> {
  const { command, args: runtimeArgs } = childCommand();
  const child: ChildProcess = spawn(command, [
    ...runtimeArgs,
    "--serve",
    `--events=${EVENTS}`,
  ], { stdio: ["pipe", "pipe", "inherit"] });
  const nextLine = lineReader(
    child.stdout!,
    RUN_TIMEOUT_MS,
    "the server process",
  ).next;
  const ports = JSON.parse(await nextLine()) as Record<MemoryImplName, number>;
  const ask = async (command: string) => {
    child.stdin!.write(command + "\n");
    return JSON.parse(await nextLine());
  };
  return {
    ports,
    memory: () => ask("memory"),
    broadcast: async () => (await ask("broadcast")).reached,
    stop() {
      child.stdin!.end();
      child.kill();
    },
  };
}

const TERMINATOR = Buffer.from("\r\n0\r\n\r\n");

interface Fetched {
  ms: number;
  /** Everything received, when asked to keep it. */
  raw?: Buffer;
}

/**
 * Requests `path` over a raw socket and times it until the chunked body's
 * terminator arrives. The client only looks at the last bytes of what it
 * receives, so it costs both servers the same however they frame the body.
 */
function fetchStream(
  port: number,
  path: string,
  keep: boolean,
): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, noDelay: true });
    const kept: Buffer[] = [];
    let tail = Buffer.alloc(0);
    let start = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of ${path} after ${RUN_TIMEOUT_MS} ms`));
    }, RUN_TIMEOUT_MS);
    socket.once("connect", () => {
      start = performance.now();
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    });
    socket.on("data", (chunk: Buffer) => {
      if (keep) kept.push(chunk);
      tail = Buffer.concat([tail, chunk.subarray(-TERMINATOR.length)])
        .subarray(-TERMINATOR.length);
      if (!tail.equals(TERMINATOR)) return;
      const ms = performance.now() - start;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ms, raw: keep ? Buffer.concat(kept) : undefined });
    });
    socket.once("error", (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** The body of a chunked response, and how many chunks carried it. */
function dechunk(raw: Buffer): { body: string; chunks: number } {
  const parts: Buffer[] = [];
  let at = raw.indexOf("\r\n\r\n") + 4;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", at);
    const size = parseInt(raw.subarray(at, lineEnd).toString("latin1"), 16);
    if (!(size > 0)) break;
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return { body: Buffer.concat(parts).toString("utf8"), chunks: parts.length };
}

interface ThroughputResult {
  impl: ImplName;
  ms: number;
  minMs: number;
  maxMs: number;
  samples: number[];
  eventsPerSecond: number;
  /** HTTP chunks that carried the body. */
  chunks: number;
  error?: string;
}

async function throughput(child: Child): Promise<ThroughputResult[]> {
  const expected = ":\n" + `data: ${TOKEN}\n\n`.repeat(EVENTS);
  const results = IMPLS.map((impl): ThroughputResult => ({
    impl,
    ms: NaN,
    minMs: NaN,
    maxMs: NaN,
    samples: [],
    eventsPerSecond: NaN,
    chunks: 0,
  }));
  for (const result of results) {
    log(`checking ${result.impl}`);
    try {
      const { raw } = await fetchStream(
        child.ports[result.impl],
        "/stream",
        true,
      );
      const { body, chunks } = dechunk(raw!);
      result.chunks = chunks;
      if (body !== expected) {
        result.error =
          `body differs: ${body.length} characters, want ${expected.length}`;
      }
    } catch (error) {
      result.error = (error as Error).message;
    }
  }
  const started = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    if (
      round >= MIN_ROUNDS && performance.now() - started > THROUGHPUT_BUDGET_MS
    ) {
      log(`throughput: time budget spent after ${round} rounds`);
      break;
    }
    log(`throughput round ${round + 1}/${ROUNDS}`);
    for (const result of rotate(results, round)) {
      try {
        const { ms } = await fetchStream(
          child.ports[result.impl],
          "/stream",
          false,
        );
        result.samples.push(ms);
      } catch (error) {
        result.error ??= (error as Error).message;
      }
    }
  }
  for (const result of results) {
    if (result.samples.length === 0) continue;
    result.ms = median(result.samples);
    result.minMs = Math.min(...result.samples);
    result.maxMs = Math.max(...result.samples);
    result.eventsPerSecond = EVENTS / result.ms * 1000;
  }
  return results;
}

interface FirstEventResult {
  impl: ImplName;
  ms: number;
  minMs: number;
  samples: number[];
  failures: number;
  error?: string;
}

async function timeToFirst(child: Child): Promise<FirstEventResult[]> {
  const results = IMPLS.map((impl): FirstEventResult => ({
    impl,
    ms: NaN,
    minMs: NaN,
    samples: [],
    failures: 0,
  }));
  log(`first event: ${TTFB_REQUESTS} requests each`);
  for (let request = 0; request < TTFB_WARMUP + TTFB_REQUESTS; request++) {
    for (const result of rotate(results, request)) {
      try {
        const ms = await timeToFirstEvent(
          child.ports[result.impl],
          "/first",
          TTFB_TIMEOUT_MS,
        );
        if (request >= TTFB_WARMUP) result.samples.push(ms);
      } catch (error) {
        result.failures++;
        result.error ??= (error as Error).message;
      }
    }
  }
  for (const result of results) {
    if (result.samples.length === 0) continue;
    result.ms = median(result.samples);
    result.minMs = Math.min(...result.samples);
  }
  return results;
}

/**
 * Resolves once what `socket` receives from now on passes `done`; rejects
 * naming `what` if the socket fails or closes first, or after a timeout.
 */
function receive(
  socket: Socket,
  done: (received: string) => boolean,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no ${what} within ${RUN_TIMEOUT_MS} ms`));
    }, RUN_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      received += chunk.toString("latin1");
      if (!done(received)) return;
      clearTimeout(timer);
      socket.off("data", onData);
      resolve();
    };
    socket.on("data", onData);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once("error", fail);
    socket.once("close", () => fail(new Error(`closed before ${what}`)));
  });
}

/** Opens an SSE connection to `/idle` and resolves once its first comment is in. */
async function openIdle(port: number): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port });
  const opened = receive(socket, (received) => {
    const body = received.indexOf("\r\n\r\n");
    return body !== -1 && received.includes(":\n", body);
  }, "stream from /idle");
  socket.write("GET /idle HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  await opened;
  // Keep-alive comments still arrive; reading them keeps the server's
  // buffers empty, as a live client would.
  socket.resume();
  return socket;
}

/**
 * Broadcasts one event to the idle connections and checks that every one
 * of them receives it, so a server is measured only if it really delivers.
 */
async function checkDelivery(child: Child, sockets: Socket[]): Promise<void> {
  const event = `data: ${TOKEN}\n\n`;
  const delivered = Promise.all(
    sockets.map((socket) =>
      receive(socket, (received) => received.includes(event), "broadcast")
    ),
  );
  // More subscribers than connections is no failure: an async generator
  // waiting on the broadcast (ssekit's idiom here) cannot run its finally
  // until that comes, so closed warm-up connections are still counted.
  const reached = await child.broadcast();
  await delivered;
  if (reached < sockets.length) {
    throw new Error(
      `the broadcast reached ${reached} subscribers, want ${sockets.length}`,
    );
  }
}

async function openMany(port: number, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  while (sockets.length < count) {
    const batch = Math.min(OPEN_BATCH, count - sockets.length);
    sockets.push(
      ...await Promise.all(Array.from({ length: batch }, () => openIdle(port))),
    );
  }
  return sockets;
}

interface MemoryResult {
  impl: MemoryImplName;
  /** Medians over the rounds, in bytes per connection. */
  heapBytes: number;
  rssBytes: number;
  heapSamples: number[];
  rssSamples: number[];
  error?: string;
}

async function idleMemory(): Promise<MemoryResult[]> {
  const results = MEMORY_IMPLS.map((impl): MemoryResult => ({
    impl,
    heapBytes: NaN,
    rssBytes: NaN,
    heapSamples: [],
    rssSamples: [],
  }));
  for (let round = 0; round < MEMORY_ROUNDS; round++) {
    for (const result of rotate(results, round)) {
      log(
        `idle memory round ${
          round + 1
        }/${MEMORY_ROUNDS}: ${CONNECTIONS} connections to ${result.impl}`,
      );
      // A fresh process each time, so one round's heap is not the next's.
      const child = await startChild();
      const port = child.ports[result.impl];
      try {
        // The first connections warm up code and pools the rest reuse.
        for (const socket of await openMany(port, OPEN_BATCH)) {
          socket.destroy();
        }
        await sleep(200);
        const before = await child.memory();
        const sockets = await openMany(port, CONNECTIONS);
        const after = await child.memory();
        try {
          await checkDelivery(child, sockets);
        } finally {
          for (const socket of sockets) socket.destroy();
        }
        result.heapSamples.push(
          (after.heapUsed - before.heapUsed) / CONNECTIONS,
        );
        result.rssSamples.push((after.rss - before.rss) / CONNECTIONS);
      } catch (error) {
        result.error ??= (error as Error).message;
      } finally {
        child.stop();
      }
    }
  }
  for (const result of results) {
    if (result.heapSamples.length === 0) continue;
    result.heapBytes = median(result.heapSamples);
    result.rssBytes = median(result.rssSamples);
  }
  return results;
}

// ---------------------------------------------------------------------------
// Report

/** A target from the issue, checked against this run. */
export interface NodeTarget {
  name: string;
  /** ssekit's value and the plain server's, in `unit`. */
  ssekit: number;
  plain: number;
  /**
   * The fetch floor's value, for the memory measures only: context for the
   * target, which it does not change.
   */
  floor?: number;
  unit: string;
  target: string;
  met: boolean;
}

/** Everything one runtime measured; `scripts/bench.mjs` reads this. */
export interface NodeBenchResults {
  runtime: string;
  events: number;
  connections: number;
  throughput: ThroughputResult[];
  firstEvent: FirstEventResult[];
  memory: MemoryResult[];
  targets: NodeTarget[];
  /** The same results rendered for people. */
  markdown: string;
}

function targetsOf(
  results: Omit<NodeBenchResults, "targets" | "markdown">,
): NodeTarget[] {
  const values = <T extends { impl: MemoryImplName }>(
    rows: T[],
    value: (row: T) => number,
  ) =>
    MEMORY_IMPLS.map((impl) => {
      const row = rows.find((row) => row.impl === impl);
      return row ? value(row) : NaN;
    });
  const [rate, plainRate] = values(
    results.throughput,
    (r) => r.eventsPerSecond,
  );
  const [first, plainFirst] = values(results.firstEvent, (r) => r.ms);
  const [heap, plainHeap, floorHeap] = values(
    results.memory,
    (r) => r.heapBytes,
  );
  const [rss, plainRss, floorRss] = values(results.memory, (r) => r.rssBytes);
  return [
    {
      name: "throughput",
      ssekit: rate,
      plain: plainRate,
      unit: "events/s",
      target: "≥ plain",
      met: rate >= plainRate,
    },
    {
      name: "time to first event",
      ssekit: first,
      plain: plainFirst,
      unit: "ms",
      target: "≤ plain + 1 ms",
      met: first - plainFirst <= 1,
    },
    {
      name: "heap per idle connection",
      ssekit: heap,
      plain: plainHeap,
      floor: floorHeap,
      unit: "bytes",
      target: "≤ plain × 1.1",
      met: heap <= plainHeap * 1.1,
    },
    {
      name: "RSS per idle connection",
      ssekit: rss,
      plain: plainRss,
      floor: floorRss,
      unit: "bytes",
      target: "≤ plain × 1.1",
      met: rss <= plainRss * 1.1,
    },
  ];
}

function number(value: number, decimals: number): string {
  return Number.isFinite(value) ? fixed(value, decimals) : "—";
}

function render(results: Omit<NodeBenchResults, "markdown">): string {
  const rounds = Math.max(...results.throughput.map((r) => r.samples.length));
  const requests = Math.max(...results.firstEvent.map((r) => r.samples.length));
  const out = [
    "| measure | ssekit/node | plain res.write | target | met | fetch floor | ssekit − floor |",
    "| --- | --: | --: | --- | --- | --: | --: |",
    ...results.targets.map((t) => {
      const decimals = t.unit === "ms" ? 3 : 0;
      const floor = t.floor ?? NaN;
      return `| ${t.name} (${t.unit}) | ${number(t.ssekit, decimals)} | ${
        number(t.plain, decimals)
      } | ${t.target} | ${t.met ? "✓" : "✗"} | ${number(floor, decimals)} | ${
        number(t.ssekit - floor, decimals)
      } |`;
    }),
    "",
    `**Throughput**: ${
      fixed(EVENTS, 0)
    } 8-byte token events per request, median of ${rounds} interleaved rounds after a checked warm-up.`,
    "",
    table(
      ["server", "median ms", "min–max ms", "events/s", "chunks", "check"],
      results.throughput.map((r) => [
        r.impl,
        number(r.ms, 1),
        `${number(r.minMs, 1)}–${number(r.maxMs, 1)}`,
        number(r.eventsPerSecond, 0),
        fixed(r.chunks, 0),
        r.error === undefined ? "✓" : `✗ ${r.error}`,
      ]),
    ),
    "",
    `**Time to first event**: request sent → first \`data:\` line on a raw socket, median of ${requests} interleaved requests.`,
    "",
    table(
      ["server", "median ms", "min ms", "failures"],
      results.firstEvent.map((r) => [
        r.impl,
        number(r.ms, 3),
        number(r.minMs, 3),
        String(r.failures),
      ]),
    ),
    "",
    `**Idle connections**: ${
      fixed(results.connections, 0)
    } open SSE connections waiting for a broadcast; the server process's heap and RSS growth after garbage collection, per connection, median of ${MEMORY_ROUNDS} rounds, each in a fresh process, which then broadcasts one event that every connection must receive. The fetch floor (memory only) is the least a fetch-handler adapter on \`node:http\` holds when it reads the body as a stream: a \`Request\` (URL, method, headers, an abort signal), a \`Response\` whose \`ReadableStream\` enqueues the broadcast and the plain server's keep-alive timer, and a pending \`reader.read()\`. ssekit/node writes a \`createSSEStream\` body to the socket without its stream, so ssekit − floor can be below zero.`,
    "",
    table(
      ["server", "heap bytes", "RSS bytes", "heap samples", "RSS samples"],
      results.memory.map((r) => [
        r.impl,
        number(r.heapBytes, 0),
        number(r.rssBytes, 0),
        r.heapSamples.map((v) => fixed(v, 0)).join(", "),
        r.rssSamples.map((v) => fixed(v, 0)).join(", "),
      ]),
    ),
  ];
  for (const r of [...results.firstEvent, ...results.memory]) {
    if (r.error !== undefined) out.push("", `- ✗ ${r.impl}: ${r.error}`);
  }
  return out.join("\n") + "\n";
}

async function main(): Promise<void> {
  const started = performance.now();
  const child = await startChild();
  let throughputResults: ThroughputResult[];
  let firstEvent: FirstEventResult[];
  try {
    throughputResults = await throughput(child);
    firstEvent = await timeToFirst(child);
  } finally {
    child.stop();
  }
  const memory = await idleMemory();
  const measured = {
    runtime: runtimeVersion(),
    events: EVENTS,
    connections: CONNECTIONS,
    throughput: throughputResults,
    firstEvent,
    memory,
  };
  const partial = { ...measured, targets: targetsOf(measured) };
  const results: NodeBenchResults = { ...partial, markdown: render(partial) };
  log(`done in ${fixed((performance.now() - started) / 1000, 1)} s`);
  printResults(results, `${results.runtime} node:http`);
}

if (args.includes("--serve")) await runServers();
else await main();
