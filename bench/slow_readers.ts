/**
 * Slow readers: how much a server holds for clients that stop reading while
 * their producers never wait.
 *
 * A server child process per runtime (Deno.serve, Bun.serve, ssekit/node on
 * Node: the servers of tests/support/server.ts) serves `createSSEStream` from an
 * async generator that yields fixed-size events without ever awaiting
 * anything else, so the only brake is the stream's own backpressure. The
 * driver (this process) opens N raw TCP clients (node:net) that each read
 * one byte a second, then samples every second, for a bounded time:
 *
 * - the server's resident memory (VmRSS in /proc/<pid>/status), and its JS
 *   heap and external (ArrayBuffer) memory as the runtime reports them;
 * - the kernel's queues for the server's port in /proc/net/tcp: the
 *   server sockets' send queues (written, not yet acknowledged) and the
 *   client sockets' receive queues (arrived, not yet read by the client);
 * - how many events the server's producers have been pulled, and how many
 *   bytes the clients took out of their sockets.
 *
 * Every byte a producer yielded is in exactly one place: read by a client,
 * in a client's receive queue, in a server's send queue, or still in the
 * server's user space (ssekit's pending text and stream queue, the runtime's
 * response buffers). So `pulled − client took − receive queues − send
 * queues` is what the server process holds in user space, measured without
 * looking at its memory (HTTP framing, well under 1 KiB per client, makes
 * it read slightly low).
 *
 * Reading one byte a second: the client process's own socket takes what
 * the kernel has (up to its stream high-water mark plus one read, tens of
 * KiB) and then stops reading from the kernel until the application has
 * read that much, which at 1 B/s takes hours. So for the kernel and the
 * server, a 1 B/s reader is a reader that stopped: its receive queue fills
 * (the window it advertises closes, and autotuning does not grow a buffer
 * nobody reads), then the server's send queue fills up to its send buffer,
 * then the server's user space takes the rest, and only that last part is
 * in the server's RSS: socket buffers are kernel memory, not resident pages
 * of the process. "RSS − send queues" (the issue's "beyond kernel buffers")
 * is printed as well, but RSS growth is already all user space. On loopback
 * (64 KiB segments) the kernel grows each send buffer towards tcp_wmem's
 * maximum (4 MiB), so with 1,000 clients the send queues stop growing only
 * at the kernel's TCP memory pressure (tcp_mem), a GiB or two: the runtimes'
 * own buffers fill after that, seconds after the clients connected.
 *
 * A control run per runtime (on by default) opens the same clients on a
 * source that never yields, so RSS growth − control is what the bytes cost,
 * apart from what a connection costs. ssekit's own share (its pending text
 * and its streams' queues) is seen by wrapping
 * `ReadableStreamDefaultController.prototype.enqueue` in the server.
 *
 * Run: `deno run -A bench/slow_readers.ts` (the driver's runtime changes
 * only how much its sockets take from the kernel; a Node server runs the
 * copy compiled by bench/tsconfig.json, which the driver builds first).
 * Options: `--clients=N` (1000), `--seconds=N` of sampling after the last
 * client connected (20), `--event-bytes=N` (100), `--runtimes=deno,bun,node`,
 * `--control=0` to skip the control runs, `--source=raw` to serve the same
 * bytes from a plain ReadableStream instead of ssekit, `--stall-timeout=ms`
 * (off by default: ssekit would drop these readers after 30 s), `--json`. About four
 * minutes for the three runtimes. Not part of `npm run bench`: it holds
 * thousands of sockets, GiBs of kernel socket memory and hundreds of MiB.
 *
 * @module
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { delimiter, join } from "node:path";
import process from "node:process";
import { createSSEStream } from "../mod.ts";
import { formatEvent } from "../src/encode.ts";
import { root } from "../tests/support/child.ts";
import { serve } from "./_serve.ts";
import { lineReader } from "./_proc.ts";
import {
  collectGarbage,
  fixed,
  median,
  numberArg,
  printResults,
  runtime,
  runtimeVersion,
  scriptArgs,
  sleep,
  table,
} from "./_util.ts";

const args = scriptArgs();
const CLIENTS = numberArg("clients", 1_000);
const SECONDS = numberArg("seconds", 20);
const EVENT_BYTES = numberArg("event-bytes", 100);
const CONTROL = !args.includes("--control=0");
// ssekit drops a client that takes nothing for stallTimeout (30 s by
// default), which a 1 B/s reader is once its buffers are full: off unless
// asked, so a run shows what is held while such a reader stays.
const STALL_TIMEOUT: number | false =
  args.some((arg) => arg.startsWith("--stall-timeout="))
    ? numberArg("stall-timeout", 30_000)
    : false;
// "raw" serves the same bytes without ssekit (see rawResponse).
const SOURCE = args.includes("--source=raw") ? "raw" : "ssekit";
const RUNTIMES = (args.find((arg) => arg.startsWith("--runtimes="))?.slice(
  "--runtimes=".length,
) ?? "deno,bun,node").split(",");
// Clients connect this many at a time, each within CONNECT_TIMEOUT_MS.
const CONNECT_WAVE = 100;
const CONNECT_TIMEOUT_MS = 15_000;
// A server child that does not answer a command within this is stuck.
const ANSWER_TIMEOUT_MS = 30_000;
// The control run samples once, after this long.
const CONTROL_SETTLE_MS = 3_000;
// The sample after the clients left waits this long for the server to see it.
const AFTER_CLOSE_MS = 2_000;
const MiB = 1024 * 1024;

for (const name of RUNTIMES) {
  if (!["deno", "bun", "node"].includes(name)) {
    throw new RangeError(
      `--runtimes must list deno, bun or node, separated by commas; got "${name}"`,
    );
  }
}

// ---------------------------------------------------------------------------
// The server (child process)

/** A stream's producer, as the server counts it. */
interface Producer {
  pulled: number;
  /** Its stream's controller, untapped when the stream ends. */
  controller?: ReadableStreamDefaultController<Uint8Array>;
}

const producers = new Set<Producer>();
let pulledTotal = 0;

// `data: <payload>\n\n` is EVENT_BYTES long.
const PAYLOAD = "x".repeat(EVENT_BYTES - "data: \n\n".length);

// Never waits between events: only the stream's backpressure stops it.
async function* fast(producer: Producer): AsyncGenerator<{ data: string }> {
  producers.add(producer);
  try {
    for (;;) {
      producer.pulled++;
      pulledTotal++;
      // A new object each time, as a real producer's would be.
      yield { data: PAYLOAD };
    }
  } finally {
    producers.delete(producer);
    if (producer.controller) taps.delete(producer.controller);
  }
}

function handler(request: Request): Response {
  const { pathname } = new URL(request.url);
  if (pathname === "/fast") {
    const producer: Producer = { pulled: 0 };
    lastTapped = undefined;
    const response = createSSEStream(fast(producer), {
      signal: request.signal,
      stallTimeout: STALL_TIMEOUT,
    });
    producer.controller = lastTapped;
    return response;
  }
  if (pathname === "/raw") return rawResponse();
  if (pathname === "/idle") {
    // Never yields: what a connection costs without any bytes to hold.
    return createSSEStream(new ReadableStream<string>(), {
      signal: request.signal,
    });
  }
  return new Response("not found", { status: 404 });
}

// What the server's streams hold, seen from their controllers: ssekit
// enqueues each chunk with `controller.enqueue`, so a wrapper on the
// prototype sees every chunk that enters a body's ReadableStream (not on
// Node, where ssekit/node adopts the body and writes it to the socket
// without a stream). Counted: every event byte enqueued, and for each
// stream the chunks still in its queue: `highWaterMark − desiredSize` of
// them under a count strategy (the default, which ssekit uses), the latest
// ones.
interface Tap {
  /** The stream's desiredSize before its first chunk: its high-water mark. */
  highWaterMark: number;
  /** The sizes of its latest chunks, newest last. */
  recent: number[];
}

const taps = new Map<ReadableStreamDefaultController<Uint8Array>, Tap>();
let enqueuedEventBytes = 0;
// The controller of the stream created last: createSSEStream enqueues the
// opening line at once, so the handler learns its stream's controller.
let lastTapped: ReadableStreamDefaultController<Uint8Array> | undefined;
const KEEP_RECENT = 4;

function tapControllers(): void {
  const prototype = ReadableStreamDefaultController.prototype;
  const enqueue = prototype.enqueue;
  prototype.enqueue = function (
    this: ReadableStreamDefaultController<Uint8Array>,
    chunk: Uint8Array,
  ) {
    let tap = taps.get(this);
    if (tap === undefined) {
      tap = { highWaterMark: this.desiredSize ?? 0, recent: [] };
      taps.set(this, tap);
      lastTapped = this;
    }
    // The opening line and keep-alive comments are not events.
    if (!(chunk.byteLength === 2 && chunk[0] === 0x3a)) {
      enqueuedEventBytes += chunk.byteLength;
    }
    tap.recent.push(chunk.byteLength);
    if (tap.recent.length > KEEP_RECENT) tap.recent.shift();
    return enqueue.call(this, chunk);
  };
}

function queuedBytes(): number {
  let bytes = 0;
  for (const [controller, tap] of taps) {
    const queued = tap.highWaterMark - (controller.desiredSize ?? 0);
    for (const size of queued > 0 ? tap.recent.slice(-queued) : []) {
      bytes += size;
    }
  }
  return bytes;
}

// The same bytes without ssekit: a ReadableStream (default strategy, one
// chunk ahead) that enqueues a chunk of ssekit's size per pull, so a runtime's
// share can be told from ssekit's.
const RAW_EVENTS = Math.ceil(16_384 / EVENT_BYTES);

function rawResponse(): Response {
  const producer: Producer = { pulled: 0 };
  const chunk = new TextEncoder().encode(
    formatEvent({ data: PAYLOAD }).repeat(RAW_EVENTS),
  );
  const body = new ReadableStream<Uint8Array>({
    start() {
      producers.add(producer);
    },
    pull(controller) {
      producer.controller = controller;
      producer.pulled += RAW_EVENTS;
      pulledTotal += RAW_EVENTS;
      controller.enqueue(chunk.slice());
    },
    cancel() {
      producers.delete(producer);
      if (producer.controller) taps.delete(producer.controller);
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream" },
  });
}

/** What the server reports of itself. */
interface ServerStats {
  /**
   * Event bytes formatted by ssekit but not yet enqueued (its pending text);
   * NaN (null in JSON) on Node, where there is no stream to tap.
   */
  pending: number;
  /** Bytes in the streams' queues, not yet read by the server; NaN on Node. */
  queued: number;
  pulled: number;
  open: number;
  perProducer: { min: number; median: number; max: number };
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

async function stats(gc: boolean): Promise<ServerStats> {
  if (gc) {
    for (let pass = 0; pass < 3; pass++) {
      collectGarbage();
      await sleep(50);
    }
  }
  const counts = [...producers].map((producer) => producer.pulled);
  const memory = process.memoryUsage();
  // ssekit/node writes an adopted body without a stream: nothing to tap.
  const tapped = runtime !== "node";
  return {
    pending: tapped ? pulledTotal * EVENT_BYTES - enqueuedEventBytes : NaN,
    queued: tapped ? queuedBytes() : NaN,
    pulled: pulledTotal,
    open: counts.length,
    perProducer: counts.length === 0 ? { min: 0, median: 0, max: 0 } : {
      min: Math.min(...counts),
      median: median(counts),
      max: Math.max(...counts),
    },
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers ?? 0,
  };
}

interface BunGlobal {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout: number;
    fetch: (request: Request) => Response;
  }): { port: number };
}

// The runtime's own server, as the tests serve; on Bun with its idle
// timeout off: Bun closes a connection after 10 s without a byte either way,
// and a reader that stopped gets no keep-alive (a comment would only queue
// behind the bytes it does not read), so by default Bun cuts slow readers
// off after 10 s. Off, it shows what Bun holds for a reader it keeps.
async function listen(): Promise<{ port: number }> {
  const { Bun } = globalThis as { Bun?: BunGlobal };
  if (!Bun) return await serve(handler);
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch: handler,
  });
}

async function runServer(): Promise<void> {
  const event = formatEvent({ data: PAYLOAD });
  if (event.length !== EVENT_BYTES) {
    throw new Error(`an event is ${event.length} bytes, want ${EVENT_BYTES}`);
  }
  tapControllers();
  const server = await listen();
  process.stdout.write(
    JSON.stringify({ port: server.port, pid: process.pid }) + "\n",
  );
  process.stdin.setEncoding("utf8");
  let buffered = "";
  // The driver sends a command only once the previous one is answered.
  process.stdin.on("data", async (text: string) => {
    buffered += text;
    for (let end; (end = buffered.indexOf("\n")) !== -1;) {
      const command = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      const reply = await stats(command === "gc-stats");
      process.stdout.write(JSON.stringify(reply) + "\n");
    }
  });
  // Closing stdin ends the server, open streams and all.
  process.stdin.once("end", () => process.exit(0));
}

// ---------------------------------------------------------------------------
// The driver (parent process)

interface ServerChild {
  port: number;
  pid: number;
  stats(gc?: boolean): Promise<ServerStats>;
  stop(): Promise<void>;
}

function childCommand(name: string): string[] {
  const script = join(root(), "bench", "slow_readers.ts");
  if (name === "deno") {
    return ["deno", "run", "-A", "--v8-flags=--expose-gc", script];
  }
  if (name === "bun") return ["bun", script];
  return [
    "node",
    "--expose-gc",
    join(root(), ".build", "bench-out", "bench", "slow_readers.js"),
  ];
}

// Node 20 runs the copy that bench/tsconfig.json compiles, as npm run bench does.
function compileForNode(): void {
  const tsc = join(root(), "node_modules", "typescript", "bin", "tsc");
  const result = spawnSync(
    "node",
    [tsc, "-p", join(root(), "bench", "tsconfig.json")],
    { cwd: root(), stdio: "inherit" },
  );
  if (result.status !== 0) {
    throw new Error(`tsc -p bench/tsconfig.json failed (${result.status})`);
  }
}

async function startServer(name: string): Promise<ServerChild> {
  const [command, ...commandArgs] = childCommand(name);
  const child: ChildProcess = spawn(command, [
    ...commandArgs,
    "--serve",
    `--event-bytes=${EVENT_BYTES}`,
    ...(STALL_TIMEOUT ? [`--stall-timeout=${STALL_TIMEOUT}`] : []),
  ], {
    cwd: root(),
    env: {
      ...process.env,
      PATH: join(root(), "node_modules", ".bin") + delimiter +
        process.env.PATH,
    },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => resolve())
  );
  const nextLine = lineReader(
    child.stdout!,
    ANSWER_TIMEOUT_MS,
    `the ${name} server`,
  ).next;
  try {
    const { port, pid } = JSON.parse(await nextLine());
    return {
      port,
      pid,
      async stats(gc = false) {
        child.stdin!.write(gc ? "gc-stats\n" : "stats\n");
        return JSON.parse(await nextLine());
      },
      async stop() {
        child.stdin!.end();
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

/** A process's resident set and its anonymous part, in bytes. */
function resident(pid: number): { rss: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => {
    const kib = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status);
    if (!kib) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(kib[1]) * 1024;
  };
  return { rss: field("VmRSS"), anon: field("RssAnon") };
}

/** The kernel's queues of the established connections to `port`. */
interface KernelQueues {
  /** Bytes the server wrote and the client has not acknowledged. */
  serverSend: number;
  /** Bytes that arrived at a client and were not read by it. */
  clientReceive: number;
  /** Established server-side connections. */
  connections: number;
}

// /proc/net/tcp: "sl local rem st tx_queue:rx_queue ...", addresses and
// queues in hex. Loopback IPv4 only, as the servers listen on 127.0.0.1.
function kernelQueues(port: number): KernelQueues {
  const queues = { serverSend: 0, clientReceive: 0, connections: 0 };
  const text = readFileSync("/proc/net/tcp", "utf8");
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || fields[3] !== "01") continue;
    const localPort = parseInt(fields[1].split(":")[1], 16);
    const remotePort = parseInt(fields[2].split(":")[1], 16);
    const [tx, rx] = fields[4].split(":").map((hex) => parseInt(hex, 16));
    if (localPort === port) {
      queues.serverSend += tx;
      queues.connections++;
    } else if (remotePort === port) queues.clientReceive += rx;
  }
  return queues;
}

/** Opens a client that reads one byte a second (see readSlowly). */
function openClient(port: number, path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response from ${path} in ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    socket.once("connect", () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`,
      );
    });
    // Paused mode: nothing is consumed but the byte a second that
    // readSlowly() takes, so the socket stops reading from the kernel once
    // its buffer is past the high-water mark.
    socket.once("readable", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.on("readable", () => {});
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function openClients(
  port: number,
  path: string,
): Promise<Socket[]> {
  const clients: Socket[] = [];
  try {
    while (clients.length < CLIENTS) {
      const wave = Math.min(CONNECT_WAVE, CLIENTS - clients.length);
      const settled = await Promise.allSettled(
        Array.from({ length: wave }, () => openClient(port, path)),
      );
      for (const result of settled) {
        if (result.status === "fulfilled") clients.push(result.value);
        else throw result.reason;
      }
    }
  } catch (error) {
    closeClients(clients);
    throw error;
  }
  return clients;
}

function readSlowly(clients: Socket[]): void {
  for (const socket of clients) socket.read(1);
}

function closeClients(clients: Socket[]): void {
  for (const socket of clients) socket.destroy();
}

/** One sample of everything, at `seconds` after the last client connected. */
interface Sample {
  seconds: number;
  rss: number;
  /** The anonymous part of rss: heaps and buffers, not mapped files. */
  anon: number;
  server: ServerStats;
  kernel: KernelQueues;
  /** Bytes the clients' sockets took out of the kernel. */
  clientTook: number;
}

async function sample(
  child: ServerChild,
  clients: Socket[],
  seconds: number,
  gc = false,
): Promise<Sample> {
  const server = await child.stats(gc);
  return {
    seconds,
    ...resident(child.pid),
    server,
    kernel: kernelQueues(child.port),
    clientTook: clients.reduce((sum, socket) => sum + socket.bytesRead, 0),
  };
}

function log(text: string): void {
  process.stderr.write(text + "\n");
}

function mib(bytes: number): string {
  return fixed(bytes / MiB, 1);
}

/** KiB per client; "—" for what was not measured. */
function perClient(bytes: number | null): string {
  // JSON turns the NaN of an untapped server into null.
  return bytes === null || Number.isNaN(bytes)
    ? "—"
    : fixed(bytes / CLIENTS / 1024, 1);
}

/** What one runtime's run measured. */
interface RuntimeResult {
  runtime: string;
  version: string;
  baseline: Sample;
  /** Samples while the clients read slowly, the last one after GC. */
  samples: Sample[];
  /** After the clients left, and GC. */
  afterClose?: Sample;
  /** The control run's sample, when it ran. */
  control?: { baseline: Sample; sample: Sample };
  error?: string;
}

function version(name: string): string {
  const command = childCommand(name)[0];
  const result = spawnSync(command, ["--version"], {
    env: {
      ...process.env,
      PATH: join(root(), "node_modules", ".bin") + delimiter +
        process.env.PATH,
    },
    encoding: "utf8",
  });
  // "deno 2.9.5 (stable, …)", "1.4.5", "v20.20.2": the first version-looking word.
  const found = /\d+\.\d+\.\d+/.exec(result.stdout ?? "");
  return `${name} ${found?.[0] ?? "?"}`;
}

async function controlRun(
  name: string,
): Promise<{ baseline: Sample; sample: Sample }> {
  const child = await startServer(name);
  let clients: Socket[] = [];
  try {
    const baseline = await sample(child, clients, 0, true);
    clients = await openClients(child.port, "/idle");
    await sleep(CONTROL_SETTLE_MS);
    return { baseline, sample: await sample(child, clients, 0, true) };
  } finally {
    closeClients(clients);
    await child.stop();
  }
}

async function slowRun(name: string): Promise<RuntimeResult> {
  const result: RuntimeResult = {
    runtime: name,
    version: version(name),
    baseline: undefined!,
    samples: [],
  };
  if (CONTROL) {
    log(`${name}: control, ${CLIENTS} clients on a source that never yields`);
    result.control = await controlRun(name);
  }
  const child = await startServer(name);
  let clients: Socket[] = [];
  try {
    result.baseline = await sample(child, clients, 0, true);
    log(`${name}: ${CLIENTS} clients reading 1 B/s from a fast producer`);
    const started = performance.now();
    clients = await openClients(
      child.port,
      SOURCE === "raw" ? "/raw" : "/fast",
    );
    log(
      `${name}: connected in ${
        fixed((performance.now() - started) / 1000, 1)
      } s`,
    );
    log(
      "  s   RSS MiB  pulled MiB  send-Q MiB  recv-Q MiB  took MiB  user MiB  conns  producers",
    );
    for (let second = 1; second <= SECONDS; second++) {
      await sleep(1_000);
      readSlowly(clients);
      const now = await sample(
        child,
        clients,
        second,
        second === SECONDS,
      );
      result.samples.push(now);
      const growth = now.rss - result.baseline.rss;
      log(
        `${String(second).padStart(3)} ${mib(growth).padStart(9)} ${
          mib(pulledBytes(now)).padStart(11)
        } ${mib(now.kernel.serverSend).padStart(11)} ${
          mib(now.kernel.clientReceive).padStart(11)
        } ${mib(now.clientTook).padStart(9)} ${
          mib(userSpace(now)).padStart(9)
        } ${String(now.kernel.connections).padStart(6)} ${
          String(now.server.open).padStart(10)
        }`,
      );
    }
    // What stays once every client has left: memory the process keeps
    // (allocator, V8 heap) rather than bytes it holds for a client.
    closeClients(clients);
    await sleep(AFTER_CLOSE_MS);
    result.afterClose = await sample(child, [], SECONDS, true);
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    log(`${name}: ${result.error}`);
  } finally {
    closeClients(clients);
    await child.stop();
  }
  return result;
}

function pulledBytes(sample: Sample): number {
  return sample.server.pulled * EVENT_BYTES;
}

// What the producers yielded and is in none of the kernel's queues nor
// with the clients: the server's user space holds it.
function userSpace(sample: Sample): number {
  return pulledBytes(sample) - sample.clientTook -
    sample.kernel.clientReceive - sample.kernel.serverSend;
}

function render(results: RuntimeResult[]): string {
  const done = results.filter((r) => r.error === undefined);
  const memoryRows = done.map((r) => {
    const last = r.samples.at(-1)!;
    const growth = last.rss - r.baseline.rss;
    const control = r.control
      ? r.control.sample.rss - r.control.baseline.rss
      : NaN;
    return [
      r.version,
      mib(growth),
      r.control ? mib(control) : "—",
      r.control ? mib(growth - control) : "—",
      mib(last.kernel.serverSend),
      mib(growth - last.kernel.serverSend),
      mib(last.server.heapUsed - r.baseline.server.heapUsed),
      mib(last.server.heapTotal - r.baseline.server.heapTotal),
      mib(last.server.external - r.baseline.server.external),
      r.afterClose ? mib(r.afterClose.rss - r.baseline.rss) : "—",
    ];
  });
  const accountRows = done.map((r) => {
    const last = r.samples.at(-1)!;
    const half = r.samples[Math.floor(r.samples.length / 2) - 1] ?? last;
    return [
      r.version,
      mib(pulledBytes(last)),
      mib(last.clientTook),
      mib(last.kernel.clientReceive),
      mib(last.kernel.serverSend),
      mib(userSpace(last)),
      perClient(userSpace(last)),
      perClient(last.server.pending),
      perClient(last.server.queued),
      perClient(userSpace(last) - last.server.pending - last.server.queued),
      `${last.server.perProducer.median} (${last.server.perProducer.min}–${last.server.perProducer.max})`,
      String(last.server.pulled - half.server.pulled),
      `${last.kernel.connections} / ${last.server.open}`,
    ];
  });
  const failed = results.filter((r) => r.error !== undefined).map((r) =>
    `- ${r.version}: ✗ ${r.error}`
  );
  return [
    `${CLIENTS} raw TCP clients each read 1 byte/s from ${
      SOURCE === "raw"
        ? `a plain ReadableStream (no ssekit) that enqueues a chunk of ${RAW_EVENTS} ${EVENT_BYTES}-byte events per pull`
        : `its own \`createSSEStream\` of an async generator that yields ${EVENT_BYTES}-byte events without waiting`
    } (stallTimeout ${
      STALL_TIMEOUT === false ? "off" : `${STALL_TIMEOUT} ms`
    }); the last sample is ${SECONDS} s after the last client connected, after GC. MiB = 2^20 bytes.`,
    "",
    "Server memory: RSS growth over the server's RSS before the clients came (VmRSS); the control is the same clients on a source that never yields; kernel send queue is the sum over the server's sockets; JS heap (used, and reserved) and external growth as the runtime reports them (process.memoryUsage); the last column is the RSS growth that stays once every client has left, after GC: memory the process kept, not bytes it holds for a client.",
    "",
    table([
      "server",
      "RSS growth MiB",
      "control MiB",
      "growth − control MiB",
      "send queue MiB",
      "RSS − send queue MiB",
      "JS heap used MiB",
      "JS heap total MiB",
      "external MiB",
      "RSS growth after clients left MiB",
    ], memoryRows),
    "",
    "Where the pulled bytes are: pulled = events the producers yielded × event size; the clients took = bytes their sockets read from the kernel; then the clients' receive queues and the server's send queues; the rest is in the server's user space: ssekit's pending text and its streams' queues (seen by wrapping \`ReadableStreamDefaultController.prototype.enqueue\`; — on Node, where ssekit/node writes the body without a stream), and the runtime's buffers after them. Events pulled per producer (median, min–max), and how many were pulled in the second half of the sampling (0 = bounded).",
    "",
    table([
      "server",
      "pulled MiB",
      "clients took MiB",
      "recv queue MiB",
      "send queue MiB",
      "server user space MiB",
      "per client KiB",
      "ssekit pending KiB",
      "ssekit queue KiB",
      "runtime KiB",
      "events per producer",
      "pulled in 2nd half",
      "connections / producers",
    ], accountRows),
    ...(failed.length ? ["", ...failed] : []),
  ].join("\n") + "\n";
}

async function main(): Promise<void> {
  if (RUNTIMES.includes("node") && runtime !== "node") compileForNode();
  const results: RuntimeResult[] = [];
  for (const name of RUNTIMES) results.push(await slowRun(name));
  const output = { markdown: render(results), runs: results };
  printResults(
    output,
    `Slow readers (driver on ${runtimeVersion()})`,
  );
}

if (args.includes("--serve")) await runServer();
else await main();
