/**
 * Topics at scale: two hub instances on one Redis, over real sockets on
 * 127.0.0.1 (issue 13, section 4, parts 1 and 3).
 *
 * - Part 1. Instance A (Deno, `Deno.serve`) serves one subscriber on each
 *   of `--topics` topics (10,000), held by raw-socket clients in their own
 *   process(es) (bench/_topics_client.ts), which publish through instance B
 *   (Bun, `Bun.serve`): `--rate` events/s (200) spread over the topics,
 *   each stamped with its publish time; latency is publish → arrival at the
 *   client, on the client's clock. Every delivery is checked (each topic's
 *   events in order, none missing, none repeated) before timings count.
 *   Reported: Redis connections per instance (`CLIENT LIST`, matched to
 *   processes through `ss -tnp`), latency p50/p99 against a one-topic
 *   baseline from the same run, the same events at a plain Redis
 *   subscriber (where the time goes), CPU per delivery and per publish
 *   (/proc/<pid>/stat), memory per subscriber (RSS growth / subscribers).
 *   Then starvation: the same, plus one topic at `--hot-rate` events/s
 *   (10,000) from a publisher connection of its own.
 * - Part 3. Churn on a fresh instance A, after a short warm-up churn:
 *   `--churn-rate` (1,000) short-lived streams per second, each to a fresh
 *   topic, for `--seconds`; Redis connections, A's RSS and heap, TIME_WAIT
 *   sockets toward Redis and A's accept queue before, during and after.
 *
 * Redis is started here (scripts/redis.mjs), and every child gets an
 * open-files limit of at least what its sockets need (`ulimit -n` in an
 * `sh -c` wrapper).
 *
 * Run: `deno run -A bench/topics.ts`, with node_modules/.bin on PATH (for
 * `bun`). Options:
 *
 * - `--topics=N`, `--seconds=N` (each phase), `--rate=N`, `--hot-rate=N`,
 *   `--churn-rate=N`, `--rounds=N`: the sizes;
 * - `--quick`: a smoke run (1,000 topics, 5 s phases);
 * - `--only=fan-out|churn`: one part;
 * - `--clients=N`: client processes; `--client=bun|deno`: their runtime;
 * - `--hold=MS`: how long a churn stream stays open after its head;
 * - `--keep-alive=MS|off`, `--max-queue=N`: the instances' stream and hub
 *   options.
 *
 * Prints markdown.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import process from "node:process";
import { Redis } from "ioredis";
import { type Child, root, spawnChild } from "../tests/support/child.ts";
import {
  type CommandStats,
  commandStats,
  cpuSeconds,
  type JsonWorker,
  machineSeconds,
  startJsonWorker,
} from "./_proc.ts";
import {
  fixed,
  median,
  numberArg,
  quantile,
  runtimeVersion,
  scriptArgs,
  sleep,
  table,
  textArg,
} from "./_util.ts";

const args = scriptArgs();
const QUICK = args.includes("--quick");
const TOPICS = numberArg("topics", QUICK ? 1_000 : 10_000);
const SECONDS = numberArg("seconds", QUICK ? 5 : 60);
const RATE = numberArg("rate", 200);
const HOT_RATE = numberArg("hot-rate", 10_000);
const CHURN_RATE = numberArg("churn-rate", 1_000);
const ROUNDS = numberArg("rounds", 5);
const CLIENTS = numberArg("clients", 1);
const HOLD_MS = numberArg("hold", 100);
const KEEP_ALIVE = textArg("keep-alive") ?? "off";
// The hub's maxQueue on A; the hub's default (256) unless given.
const MAX_QUEUE = textArg("max-queue");
const CLIENT_RUNTIME = textArg("client") ?? "bun";
// One part only: "fan-out" (part 1) or "churn" (part 3).
const ONLY = textArg("only");
if (ONLY !== undefined && ONLY !== "fan-out" && ONLY !== "churn") {
  throw new TypeError(`--only must be fan-out or churn, got ${ONLY}`);
}
if (CLIENT_RUNTIME !== "bun" && CLIENT_RUNTIME !== "deno") {
  throw new TypeError(`--client must be bun or deno, got ${CLIENT_RUNTIME}`);
}
const BASELINE_SECONDS = Math.min(SECONDS, 10);
const WARM_UP_SECONDS = 2;
// How long each process's CPU is read without publishing, for comparison.
const IDLE_SECONDS = Math.min(SECONDS, 5);
const TARGET_P99_MS = 50;
const TARGET_CONNECTIONS = 4;
// Churn: A's RSS and heap count as back at their baseline within this share.
const MEMORY_TOLERANCE = 0.1;
// TIME_WAIT sockets toward Redis that still count as none piling up.
const TIME_WAIT_TOLERANCE = 10;
// Waits on other processes, all bounded.
const SETTLE_MS = 60_000;
// Churn streams still opening at once (for the client's sockets too).
const CHURN_OPENING = 5_000;
// A churn this long comes first: the baseline is a warmed-up instance.
const CHURN_WARM_UP_SECONDS = Math.min(SECONDS, 5);

const MiB = 1024 * 1024;
const log = (message: string) => console.error(`[topics] ${message}`);
const env = {
  PATH: join(root(), "node_modules", ".bin") + delimiter + process.env.PATH,
};

// ---------------------------------------------------------------------------
// What /proc and ss say about a process

function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

function openFilesLimit(pid: number): string {
  const limits = readFileSync(`/proc/${pid}/limits`, "utf8");
  return /Max open files\s+(\S+)/.exec(limits)?.[1] ?? "?";
}

function sh(command: string): string {
  const result = spawnSync("sh", ["-c", command], { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`${command}: ${result.stderr || result.status}`);
  }
  return result.stdout;
}

/** The process holding each local port connected to `port`. */
function socketOwners(port: number): Map<number, number> {
  const owners = new Map<number, number>();
  const out = sh(`ss -Htnp state established '( dport = :${port} )'`);
  for (const line of out.split("\n")) {
    const match = /:(\d+)\s+\S+:\d+\s+users:\(\("[^"]*",pid=(\d+)/.exec(line);
    if (match) owners.set(Number(match[1]), Number(match[2]));
  }
  return owners;
}

/**
 * The listener on `port`: connections waiting to be accepted (Recv-Q) and
 * how many may wait (the backlog, Send-Q).
 */
function listener(port: number): { queue: number; backlog: number } {
  const [, queue, backlog] = sh(`ss -Hltn '( sport = :${port} )'`).trim()
    .split(/\s+/);
  return { queue: Number(queue), backlog: Number(backlog) };
}

function timeWait(filter: string): number {
  return sh(`ss -Htan state time-wait '( ${filter} )'`).split("\n")
    .filter((line) => line.trim() !== "").length;
}

// ---------------------------------------------------------------------------
// The processes

interface Instance {
  name: string;
  child: Child;
  url: string;
  pid: number;
  runtime: string;
}

interface Stats {
  pid: number;
  runtime: string;
  heapUsed: number;
  heapTotal: number;
  /** Memory outside V8's heap that V8 knows of (buffers). */
  external: number;
  topics: number;
  subscribers: number;
}

async function stats(instance: Instance, gc = false): Promise<Stats> {
  const response = await fetch(
    new URL(`/stats${gc ? "?gc=1" : ""}`, instance.url),
  );
  return await response.json() as Stats;
}

/**
 * The open-files limit the children run with: the current soft limit, or
 * what `sockets` need when that is more (raising the soft limit up to the
 * hard one needs no privilege).
 */
function filesLimit(sockets: number): number {
  const [soft, hard] = sh("ulimit -n; ulimit -Hn").trim().split("\n");
  const need = sockets + 1_024;
  const current = soft === "unlimited" ? Infinity : Number(soft);
  if (need <= current) return current === Infinity ? need : current;
  if (hard !== "unlimited" && Number(hard) < need) {
    throw new RangeError(
      `${sockets} sockets need an open-files limit of ${need}; the hard limit is ${hard} (try fewer --topics or more --clients)`,
    );
  }
  return need;
}

/** `command` run under `ulimit -n limit`, through sh, as the same process. */
function limited(limit: number, command: string[]): [string, string[]] {
  return ["sh", ["-c", `ulimit -n ${limit} && exec "$0" "$@"`, ...command]];
}

async function startInstance(
  name: string,
  command: string[],
  redisUrl: string,
  prefix: string,
  limit: number,
): Promise<Instance> {
  const [sh, shArgs] = limited(limit, [...command, "bench/_topics_server.ts"]);
  const child = await spawnChild(sh, shArgs, {
    env: {
      ...env,
      SSEKIT_REDIS_URL: redisUrl,
      SSEKIT_REDIS_PREFIX: prefix,
      BENCH_KEEP_ALIVE: KEEP_ALIVE,
      ...(MAX_QUEUE ? { BENCH_MAX_QUEUE: MAX_QUEUE } : {}),
    },
  });
  const instance = { name, child, url: child.url, pid: 0, runtime: "" };
  const { pid, runtime } = await stats(instance);
  log(`instance ${name}: ${runtime}, pid ${pid}, ${child.url}`);
  return { ...instance, pid, runtime };
}

/** A client process, driven by JSON lines (see bench/_topics_client.ts). */
type ClientProcess = JsonWorker;

function startClient(b: Instance, limit: number): Promise<ClientProcess> {
  const runtime = CLIENT_RUNTIME === "deno"
    ? ["deno", "run", "-A", "bench/_topics_client.ts"]
    : ["bun", "bench/_topics_client.ts"];
  const [command, args] = limited(limit, [...runtime, b.url]);
  return startJsonWorker(command, args, env, "client");
}

// ---------------------------------------------------------------------------
// Redis: connections per instance, command statistics

type Connections = Record<string, number>;

interface Bench {
  redis: Child;
  redisPort: number;
  redisPid: number;
  admin: Redis;
  /** Replaced by a fresh one between the parts. */
  a: Instance;
  b: Instance;
  clients: ClientProcess[];
  /** Starts an instance A like the first. */
  startA(): Promise<Instance>;
  /** The stores' key prefix. */
  prefix: string;
  /** How many topics each client holds a stream of. */
  topicsPerClient: number[];
}

/** Each instance's Redis connections by name, from `CLIENT LIST`. */
async function connections(
  bench: Bench,
): Promise<{ a: Connections; b: Connections }> {
  const list = await bench.admin.call("CLIENT", "LIST") as string;
  const owners = socketOwners(bench.redisPort);
  const a: Connections = {};
  const b: Connections = {};
  for (const line of list.split("\n")) {
    const port = /\baddr=[^ ]*:(\d+)/.exec(line)?.[1];
    if (!port) continue;
    const name = /\bname=(\S*)/.exec(line)?.[1] || "(no name)";
    const pid = owners.get(Number(port));
    const into = pid === bench.a.pid ? a : pid === bench.b.pid ? b : undefined;
    if (into) into[name] = (into[name] ?? 0) + 1;
  }
  return { a, b };
}

const total = (connections: Connections) =>
  Object.values(connections).reduce((sum, n) => sum + n, 0);
const byName = (connections: Connections) =>
  total(connections) === 0
    ? "0"
    : `${total(connections)} (${
      Object.entries(connections).sort().map(([name, n]) => `${name} ${n}`)
        .join(", ")
    })`;

async function shardChannels(bench: Bench): Promise<number> {
  return (await bench.admin.call("PUBSUB", "SHARDCHANNELS") as string[])
    .length;
}

/** The commands that took Redis the most time between two readings. */
function topCommands(before: CommandStats, after: CommandStats): string {
  return [...after].map(([name, { calls, usec }]) => ({
    name,
    calls: calls - (before.get(name)?.calls ?? 0),
    usec: usec - (before.get(name)?.usec ?? 0),
  })).filter((c) => c.calls > 0).sort((x, y) => y.usec - x.usec).slice(0, 4)
    .map((c) =>
      `${c.name} ${c.calls.toLocaleString("en-US")} × ${
        fixed(c.usec / c.calls, 1)
      } µs`
    ).join(", ");
}

// ---------------------------------------------------------------------------
// Publish phases

interface ClientPhase {
  published: number;
  quietPublished: number;
  hotPublished: number;
  received: number;
  lost: number;
  missing: number;
  repeated: number;
  misplaced: number;
  closed: number;
  errors: string[];
  quiet: number[][];
  hot: number[][];
  probe: number[][];
  lagP99: number;
  lagMax: number;
  /** p50 and p99 of the POSTs' round trips, ms. */
  quietRoundTrip?: [number, number];
  hotRoundTrip?: [number, number];
  busyTicks: number;
  largestBatch: number;
  drainMs: number;
  cpuMs: number;
  wallMs: number;
}

interface Latencies {
  count: number;
  /** Per-round quantiles, in ms. */
  p50: number[];
  p99: number[];
  /** Over every sample. */
  allP50: number;
  allP99: number;
  max: number;
}

function latencies(rounds: number[][]): Latencies | undefined {
  const all = rounds.flat();
  if (all.length === 0) return undefined;
  const filled = rounds.filter((round) => round.length > 0);
  return {
    count: all.length,
    p50: filled.map((round) => quantile(round, 0.5)),
    p99: filled.map((round) => quantile(round, 0.99)),
    allP50: quantile(all, 0.5),
    allP99: quantile(all, 0.99),
    max: all.reduce((most, ms) => Math.max(most, ms), 0),
  };
}

/** Seconds of CPU each process used, and the wall time. */
interface CpuReading {
  wall: number;
  /** Every process on the machine, all cores. */
  machine: number;
  a: number;
  b: number;
  redis: number;
  clients: number[];
}

function readCpu(bench: Bench): CpuReading {
  return {
    wall: performance.now() / 1_000,
    machine: machineSeconds().busy,
    a: cpuSeconds(bench.a.pid),
    b: cpuSeconds(bench.b.pid),
    redis: cpuSeconds(bench.redisPid),
    clients: bench.clients.map((client) => cpuSeconds(client.pid)),
  };
}

/** CPU seconds per process over `seconds`; others: the rest of the machine. */
type Cpu = ReturnType<typeof cpuUsed> & { seconds: number };

function cpuUsed(before: CpuReading, after: CpuReading) {
  const a = after.a - before.a;
  const b = after.b - before.b;
  const redis = after.redis - before.redis;
  const client = after.clients.reduce(
    (n, s, i) => n + s - before.clients[i],
    0,
  );
  const others = after.machine - before.machine - a - b - redis - client;
  return { a, b, redis, client, others: Math.max(0, others) };
}

interface PhaseResult {
  name: string;
  topics: number;
  rate: string;
  published: number;
  received: number;
  quiet: Latencies | undefined;
  hot: Latencies | undefined;
  /** The quiet events at a plain Redis subscriber (the client's probe). */
  probe: Latencies | undefined;
  check: string[];
  seconds: number;
  /** CPU seconds used in the phase, per process; others: the rest of the machine. */
  cpu: { a: number; b: number; redis: number; client: number; others: number };
  /** The same, measured without publishing just before. */
  idle: Cpu | undefined;
  clientLagP99: number;
  quietRoundTrip?: [number, number];
  hotRoundTrip?: [number, number];
  largestBatch: number;
  redisTop: string;
}

/** The clients' POST round trips: the median p50 and the largest p99. */
function roundTrips(
  each: ([number, number] | undefined)[],
): [number, number] | undefined {
  const given = each.filter((rt) => rt !== undefined);
  return given.length
    ? [median(given.map((rt) => rt[0])), Math.max(...given.map((rt) => rt[1]))]
    : undefined;
}

/** CPU per process over a few seconds without publishing. */
async function idleCpu(bench: Bench): Promise<Cpu> {
  const before = readCpu(bench);
  await sleep(IDLE_SECONDS * 1_000);
  const after = readCpu(bench);
  return { ...cpuUsed(before, after), seconds: after.wall - before.wall };
}

async function publishPhase(
  bench: Bench,
  name: string,
  topics: number,
  seconds: number,
  hot?: string,
  idle?: Cpu,
): Promise<PhaseResult> {
  log(`${name}: ${seconds} s`);
  const statsBefore = await commandStats(bench.admin);
  const before = readCpu(bench);
  const replies = await Promise.all(
    bench.clients.map((client, i) =>
      client.call<ClientPhase>({
        cmd: "publish",
        seconds,
        // Each client's share of the rate is its share of the topics.
        rate: RATE * bench.topicsPerClient[i] /
          Math.max(1, bench.topicsPerClient.reduce((n, t) => n + t, 0)),
        rounds: ROUNDS,
        ...(hot && i === 0 ? { hot, hotRate: HOT_RATE } : {}),
      }, (seconds + 60) * 1_000)
    ),
  );
  const after = readCpu(bench);
  const statsAfter = await commandStats(bench.admin);
  const sum = (key: keyof ClientPhase) =>
    replies.reduce((n, reply) => n + (reply[key] as number), 0);
  const merge = (key: "quiet" | "hot" | "probe") =>
    Array.from(
      { length: ROUNDS },
      (_, round) => replies.flatMap((reply) => reply[key][round]),
    );
  const check: string[] = replies.flatMap((reply) => reply.errors);
  for (
    const [key, what] of [
      ["missing", "missing"],
      ["repeated", "repeated"],
      ["misplaced", "on the wrong topic"],
      ["closed", "streams closed"],
    ] as const
  ) {
    if (sum(key) > 0) check.unshift(`${sum(key)} ${what}`);
  }
  if (sum("received") !== sum("published")) {
    check.unshift(`${sum("received")} of ${sum("published")} delivered`);
  }
  if (check.length > 0) log(`${name}: ✗ ${check.slice(0, 8).join("; ")}`);
  return {
    name,
    topics,
    rate: hot
      ? `${RATE.toLocaleString("en-US")} + ${
        HOT_RATE.toLocaleString("en-US")
      } on one`
      : RATE.toLocaleString("en-US"),
    published: sum("published"),
    received: sum("received"),
    quiet: latencies(merge("quiet")),
    hot: hot ? latencies(merge("hot")) : undefined,
    probe: latencies(merge("probe")),
    check,
    seconds: after.wall - before.wall,
    cpu: cpuUsed(before, after),
    idle,
    clientLagP99: Math.max(...replies.map((reply) => reply.lagP99)),
    quietRoundTrip: roundTrips(replies.map((reply) => reply.quietRoundTrip)),
    hotRoundTrip: roundTrips(replies.map((reply) => reply.hotRoundTrip)),
    largestBatch: Math.max(...replies.map((reply) => reply.largestBatch)),
    redisTop: topCommands(statsBefore, statsAfter),
  };
}

/** Splits `topics` among the clients and subscribes; resolves when Redis has them all. */
async function subscribeAll(
  bench: Bench,
  topics: string[],
): Promise<{ seconds: number; errors: string[] }> {
  const start = performance.now();
  // A client without topics (one topic, two clients) is left out.
  const shares = bench.clients.map((client, i) => ({
    client,
    topics: topics.filter((_, t) => t % bench.clients.length === i),
  }));
  shares.forEach((share, i) => bench.topicsPerClient[i] += share.topics.length);
  const replies = await Promise.all(
    shares.filter((share) => share.topics.length > 0).map((
      { client, topics },
    ) =>
      client.call<{ failed: number; errors: string[] }>({
        cmd: "subscribe",
        url: bench.a.url,
        topics,
        probe: { redis: bench.redis.url, prefix: bench.prefix },
      }, SETTLE_MS * 2)
    ),
  );
  const errors = replies.flatMap((reply) => reply.errors);
  // Each stream's tail is live once its shard channel is subscribed.
  const deadline = Date.now() + SETTLE_MS;
  let channels = 0;
  while ((channels = await shardChannels(bench)) < topics.length) {
    if (Date.now() > deadline) {
      errors.push(`${channels} of ${topics.length} shard channels subscribed`);
      break;
    }
    await sleep(100);
  }
  return { seconds: (performance.now() - start) / 1_000, errors };
}

/** Waits until A follows no topic and Redis has no shard channel left. */
async function settle(bench: Bench): Promise<string | undefined> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const { topics, subscribers } = await stats(bench.a);
    const channels = await shardChannels(bench);
    if (topics === 0 && subscribers === 0 && channels === 0) return;
    if (Date.now() > deadline) {
      return `${subscribers} subscribers, ${topics} topics, ${channels} shard channels left after ${
        SETTLE_MS / 1_000
      } s`;
    }
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------
// Churn

interface Sample {
  a: number;
  b: number;
  aConnections: string;
  rss: number;
  heap?: number;
  heapTotal?: number;
  external: number;
  topics: number;
  subscribers: number;
  channels: number;
  timeWaitToRedis: number;
  timeWaitFromRedis: number;
  /** Connections waiting in A's accept queue (ss Recv-Q of its listener). */
  acceptQueue: number;
}

async function sample(bench: Bench, gc = false): Promise<Sample> {
  const [{ a, b }, aStats, channels] = await Promise.all([
    connections(bench),
    stats(bench.a, gc),
    shardChannels(bench),
  ]);
  return {
    a: total(a),
    b: total(b),
    aConnections: byName(a),
    rss: rss(bench.a.pid),
    heap: gc ? aStats.heapUsed : undefined,
    heapTotal: gc ? aStats.heapTotal : undefined,
    external: aStats.external,
    topics: aStats.topics,
    subscribers: aStats.subscribers,
    channels,
    timeWaitToRedis: timeWait(`dport = :${bench.redisPort}`),
    timeWaitFromRedis: timeWait(`sport = :${bench.redisPort}`),
    acceptQueue: listener(Number(new URL(bench.a.url).port)).queue,
  };
}

interface ClientChurn {
  started: number;
  completed: number;
  failed: number;
  skipped: number;
  unfinished: number;
  errors: string[];
  rate: number;
  headP50: number;
  headP99: number;
  lagP99: number;
  lagMax: number;
  cpuMs: number;
  wallMs: number;
}

interface ChurnResult {
  /** A's RSS before its first stream. */
  cold: number;
  /** How many connections A's listener lets wait. */
  backlog: number;
  before: Sample;
  during: Sample[];
  after: Sample;
  settle: string | undefined;
  /** Connections the kernel dropped for full listen queues, machine-wide. */
  overflows: number;
  replies: ClientChurn[];
  cpu: Cpu;
}

function runChurn(
  bench: Bench,
  seconds: number,
  prefix: string,
): Promise<ClientChurn[]> {
  return Promise.all(
    bench.clients.map((client, i) =>
      client.call<ClientChurn>({
        cmd: "churn",
        url: bench.a.url,
        seconds,
        rate: CHURN_RATE / bench.clients.length,
        hold: HOLD_MS,
        prefix: `${prefix}-${i}-`,
        opening: CHURN_OPENING / bench.clients.length,
      }, (seconds + 60) * 1_000)
    ),
  );
}

/** Listen queue overflows so far, on the whole machine (/proc/net/netstat). */
function listenOverflows(): number {
  const [names, values] = readFileSync("/proc/net/netstat", "utf8").split(
    "\n",
  ).filter((line) => line.startsWith("TcpExt:"));
  const index = names.split(" ").indexOf("ListenOverflows");
  return index === -1 ? NaN : Number(values.split(" ")[index]);
}

async function churn(bench: Bench, seconds: number): Promise<ChurnResult> {
  const cold = rss(bench.a.pid);
  const { backlog } = listener(Number(new URL(bench.a.url).port));
  log(`churn warm-up: ${CHURN_RATE}/s for ${CHURN_WARM_UP_SECONDS} s`);
  await runChurn(bench, CHURN_WARM_UP_SECONDS, "warm");
  const warmSettle = await settle(bench);
  log(`churn: ${CHURN_RATE}/s for ${seconds} s`);
  const before = await sample(bench, true);
  const cpuBefore = readCpu(bench);
  const overflowsBefore = listenOverflows();
  const running = runChurn(bench, seconds, "churn");
  let finished = false;
  void running.finally(() => finished = true).catch(() => {});
  const during: Sample[] = [];
  while (!finished) {
    await Promise.race([running, sleep(1_000)]).catch(() => {});
    if (!finished) during.push(await sample(bench));
  }
  const replies = await running;
  const cpuAfter = readCpu(bench);
  const overflows = listenOverflows() - overflowsBefore;
  const settled = await settle(bench);
  // Timers and buffers of the closed streams go with the next collections.
  await sleep(2_000);
  const after = await sample(bench, true);
  return {
    cold,
    backlog,
    before,
    during,
    after,
    settle: [warmSettle, settled].filter((s) => s).join("; ") || undefined,
    overflows,
    replies,
    cpu: {
      ...cpuUsed(cpuBefore, cpuAfter),
      seconds: cpuAfter.wall - cpuBefore.wall,
    },
  };
}

// ---------------------------------------------------------------------------
// The report

const ms = (value: number | undefined) =>
  value === undefined ? "—" : fixed(value, 2);
const mark = (met: boolean) => met ? "✓" : "✗";
const check = (errors: readonly string[]) =>
  errors.length === 0
    ? "✓"
    : `✗ ${errors[0]}${errors.length > 1 ? ` (+${errors.length - 1})` : ""}`;
const mib = (bytes: number | undefined) =>
  bytes === undefined ? "—" : `${fixed(bytes / MiB, 1)} MiB`;
const percent = (cpu: number, seconds: number) =>
  `${fixed(100 * cpu / seconds, 0)} %`;

function latencyTable(phases: PhaseResult[], baseline: PhaseResult): string {
  const baseP99 = baseline.quiet?.allP99;
  const rows: string[][] = [];
  for (const phase of phases) {
    for (
      const [kind, lat] of [["", phase.quiet], [
        " (hot topic)",
        phase.hot,
      ]] as const
    ) {
      if (!lat && kind) continue;
      const quiet = kind === "";
      rows.push([
        phase.name + kind,
        phase.topics.toLocaleString("en-US"),
        quiet ? phase.rate : HOT_RATE.toLocaleString("en-US"),
        (lat?.count ?? 0).toLocaleString("en-US"),
        ms(lat && median(lat.p50)),
        lat
          ? `${ms(median(lat.p99))} (${ms(Math.min(...lat.p99))}–${
            ms(Math.max(...lat.p99))
          })`
          : "—",
        ms(lat?.allP99),
        ms(lat?.max),
        lat && baseP99 ? `${fixed(lat.allP99 / baseP99, 2)}×` : "—",
        quiet && lat ? mark(lat.allP99 <= TARGET_P99_MS) : "—",
        quiet ? check(phase.check) : "—",
      ]);
    }
  }
  return table(
    [
      "case",
      "topics",
      "publishes/s",
      "deliveries",
      "p50 ms",
      "p99 ms, median of rounds (min–max)",
      "p99 ms, all",
      "max ms",
      "p99 × baseline",
      `p99 ≤ ${TARGET_P99_MS} ms`,
      "check",
    ],
    rows,
  );
}

/** Where a quiet event's latency accrues: publishing, Redis, instance A. */
function splitTable(phases: PhaseResult[]): string {
  const pair = (values: [number, number] | undefined) =>
    values ? `${ms(values[0])} / ${ms(values[1])}` : "—";
  const of = (lat: Latencies | undefined) =>
    lat ? pair([lat.allP50, lat.allP99]) : "—";
  return table(
    [
      "case",
      "POST to B answered, per POST (quiet)",
      "per POST (hot)",
      "at a plain Redis subscriber",
      "delivered by A",
    ],
    phases.map((p) => [
      p.name,
      pair(p.quietRoundTrip),
      pair(p.hotRoundTrip),
      of(p.probe),
      of(p.quiet),
    ]),
  );
}

function costTable(phases: PhaseResult[]): string {
  return table(
    [
      "case",
      "A CPU / delivery (above idle)",
      "A CPU (idle)",
      "B CPU / publish",
      "B CPU",
      "Redis CPU / publish",
      "Redis CPU",
      "client CPU",
      "other processes' CPU",
      "client tick lag p99",
      "largest POST",
      "Redis's busiest commands",
    ],
    phases.map((p) => [
      p.name,
      `${fixed(1e6 * p.cpu.a / Math.max(1, p.received), 1)} µs${
        p.idle
          ? ` (${
            fixed(
              1e6 *
                Math.max(0, p.cpu.a - p.idle.a * p.seconds / p.idle.seconds) /
                Math.max(1, p.received),
              1,
            )
          } µs)`
          : ""
      }`,
      `${percent(p.cpu.a, p.seconds)}${
        p.idle ? ` (${percent(p.idle.a, p.idle.seconds)})` : ""
      }`,
      `${fixed(1e6 * p.cpu.b / Math.max(1, p.published), 1)} µs`,
      percent(p.cpu.b, p.seconds),
      `${fixed(1e6 * p.cpu.redis / Math.max(1, p.published), 1)} µs`,
      percent(p.cpu.redis, p.seconds),
      percent(p.cpu.client, p.seconds),
      percent(p.cpu.others, p.seconds),
      `${ms(p.clientLagP99)} ms`,
      `${p.largestBatch.toLocaleString("en-US")} events`,
      p.redisTop,
    ]),
  );
}

function churnTable(result: ChurnResult): string {
  const { before, during, after } = result;
  const most = (key: keyof Sample) =>
    during.length
      ? Math.max(...during.map((s) => s[key] as number))
      : undefined;
  const count = (n: number | undefined) =>
    n === undefined ? "—" : n.toLocaleString("en-US");
  const grew = (key: "rss" | "heap") =>
    after[key]! - before[key]! <= MEMORY_TOLERANCE * before[key]!;
  // The by-name breakdown of the sample with the most connections.
  const busiest = during.reduce<Sample | undefined>(
    (most, s) => most === undefined || s.a > most.a ? s : most,
    undefined,
  );
  return table(
    ["", "before", "during (max)", "after", "check"],
    [
      [
        "A's Redis connections",
        before.aConnections,
        busiest?.aConnections ?? "—",
        after.aConnections,
        mark(
          after.a === before.a && (most("a") ?? 0) <= TARGET_CONNECTIONS,
        ),
      ],
      [
        "B's Redis connections",
        count(before.b),
        count(most("b")),
        count(after.b),
        mark(after.b === before.b),
      ],
      [
        "A's RSS",
        `${mib(before.rss)} (${mib(result.cold)} when started)`,
        mib(most("rss")),
        mib(after.rss),
        mark(grew("rss")),
      ],
      [
        "A's heap after a full GC",
        mib(before.heap),
        "—",
        mib(after.heap),
        mark(grew("heap")),
      ],
      [
        "A's external memory (V8)",
        mib(before.external),
        mib(most("external")),
        mib(after.external),
        "—",
      ],
      [
        "A's topics / subscribers",
        `${before.topics} / ${before.subscribers}`,
        `${count(most("topics"))} / ${count(most("subscribers"))}`,
        `${after.topics} / ${after.subscribers}`,
        mark(after.topics === 0 && after.subscribers === 0),
      ],
      [
        "shard channels in Redis",
        count(before.channels),
        count(most("channels")),
        count(after.channels),
        mark(after.channels === 0),
      ],
      [
        "TIME_WAIT toward Redis (dport)",
        count(before.timeWaitToRedis),
        count(most("timeWaitToRedis")),
        count(after.timeWaitToRedis),
        mark((most("timeWaitToRedis") ?? 0) <= TIME_WAIT_TOLERANCE),
      ],
      [
        "TIME_WAIT from Redis (sport)",
        count(before.timeWaitFromRedis),
        count(most("timeWaitFromRedis")),
        count(after.timeWaitFromRedis),
        mark((most("timeWaitFromRedis") ?? 0) <= TIME_WAIT_TOLERANCE),
      ],
      [
        "A's accept queue (ss Recv-Q)",
        count(before.acceptQueue),
        count(most("acceptQueue")),
        count(after.acceptQueue),
        "—",
      ],
    ],
  );
}

// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// The parts

interface Running {
  bench: Bench;
  clientRuntime: string;
  /** Stops everything that was started, in reverse order. */
  stop(): Promise<void>;
}

/** Starts Redis, instance A (Deno), instance B (Bun) and the clients. */
async function setUp(): Promise<Running> {
  const clientSockets = Math.ceil(TOPICS / CLIENTS) + CHURN_OPENING;
  const serverLimit = filesLimit(TOPICS + CHURN_OPENING);
  const clientLimit = filesLimit(clientSockets);
  const stack: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const step of stack.reverse()) {
      await step().catch((error) => log(`stopping: ${error}`));
    }
  };
  try {
    const redis = await spawnChild("node", [
      join(root(), "scripts", "redis.mjs"),
    ]);
    stack.push(() => redis.stop());
    const admin = new Redis(redis.url, { connectionName: "ssekit-bench" });
    admin.on("error", () => {});
    stack.push(() => Promise.resolve(admin.disconnect()));
    const redisPid = Number(
      /process_id:(\d+)/.exec(await admin.info("server"))![1],
    );
    const prefix = `ssekit-topics-bench:${Date.now()}:`;
    const startA = () =>
      startInstance(
        "A",
        ["deno", "run", "-A", "--v8-flags=--expose-gc"],
        redis.url,
        prefix,
        serverLimit,
      );
    const a = await startA();
    const current = { a };
    stack.push(() => current.a.child.stop());
    const b = await startInstance("B", ["bun"], redis.url, prefix, serverLimit);
    stack.push(() => b.child.stop());
    const clients: ClientProcess[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const client = await startClient(b, clientLimit);
      stack.push(() => client.stop());
      clients.push(client);
    }
    const bench: Bench = {
      redis,
      redisPort: Number(new URL(redis.url).port),
      redisPid,
      admin,
      get a() {
        return current.a;
      },
      set a(a: Instance) {
        current.a = a;
      },
      b,
      clients,
      startA,
      prefix,
      topicsPerClient: clients.map(() => 0),
    };
    const version = sh(`${CLIENT_RUNTIME} --version | head -1`).trim();
    return {
      bench,
      clientRuntime: version.startsWith(CLIENT_RUNTIME)
        ? version
        : `${CLIENT_RUNTIME} ${version}`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function unsubscribeAll(bench: Bench): Promise<unknown> {
  bench.topicsPerClient.fill(0);
  return Promise.all(
    bench.clients.map((c) => c.call({ cmd: "unsubscribe" }, 10_000)),
  );
}

interface FanOutPart {
  baseline: PhaseResult;
  fanOut: PhaseResult;
  starved: PhaseResult;
  idle: Sample;
  loaded: Sample;
  held: { a: Connections; b: Connections };
  heldAfter: { a: Connections; b: Connections };
  rssAfter: number;
  bRss: number;
  subscribeSeconds: number;
  unsubscribeSeconds: number;
  unsubscribeSettle: string | undefined;
}

/** Part 1: the baseline, every topic at the quiet rate, and starvation. */
async function fanOutPart(bench: Bench): Promise<FanOutPart> {
  // Baseline: one topic, one subscriber, the same publish rate.
  await subscribeAll(bench, ["base"]);
  await publishPhase(bench, "warm-up", 1, WARM_UP_SECONDS);
  const baseline = await publishPhase(
    bench,
    "baseline: 1 topic",
    1,
    BASELINE_SECONDS,
    undefined,
    await idleCpu(bench),
  );
  await unsubscribeAll(bench);
  const baselineSettle = await settle(bench);
  if (baselineSettle) baseline.check.push(baselineSettle);

  // Every topic with one subscriber.
  const idle = await sample(bench, true);
  log(`subscribing ${TOPICS} topics`);
  const topics = Array.from({ length: TOPICS }, (_, i) => `t${i}`);
  const subscribed = await subscribeAll(bench, topics);
  await sleep(1_000);
  const loaded = await sample(bench, true);
  const held = await connections(bench);
  const idleLoaded = await idleCpu(bench);
  const fanOut = await publishPhase(
    bench,
    `${TOPICS.toLocaleString("en-US")} topics`,
    TOPICS,
    SECONDS,
    undefined,
    idleLoaded,
  );
  fanOut.check.unshift(...subscribed.errors);
  const starved = await publishPhase(
    bench,
    "starvation",
    TOPICS,
    SECONDS,
    topics[0],
    idleLoaded,
  );
  const heldAfter = await connections(bench);
  const rssAfter = rss(bench.a.pid);
  log("unsubscribing");
  const unsubscribeStart = performance.now();
  await unsubscribeAll(bench);
  const unsubscribeSettle = await settle(bench);
  return {
    baseline,
    fanOut,
    starved,
    idle,
    loaded,
    held,
    heldAfter,
    rssAfter,
    bRss: rss(bench.b.pid),
    subscribeSeconds: subscribed.seconds,
    unsubscribeSeconds: (performance.now() - unsubscribeStart) / 1_000,
    unsubscribeSettle,
  };
}

function intro(running: Running): string {
  const { a, b, clients } = running.bench;
  const limits = `servers ${openFilesLimit(a.pid)}, clients ${
    clients.map((c) => openFilesLimit(c.pid)).join(", ")
  } (soft limit here: ${sh("ulimit -n").trim()}, hard: ${
    sh("ulimit -Hn").trim()
  })`;
  return `# Topics at scale: two instances on one Redis

bench/topics.ts (issue 13, section 4, parts 1 and 3), run by ${runtimeVersion()}. Instance A: ${a.runtime}, \`Deno.serve\`; instance B: ${b.runtime}, \`Bun.serve\`; each a hub on \`redisStore\` (default history: 1,000 events, ttl 5 min) in its own process, on one redis-server 7 (no persistence) on 127.0.0.1. Hub options: \`maxQueue\` ${
    MAX_QUEUE ?? "256 (default)"
  }, \`slow: "disconnect"\` (default); keep-alive comments ${KEEP_ALIVE}. Every subscriber is on A, one per topic, a raw \`node:net\` socket in ${clients.length} client process${
    clients.length > 1 ? "es" : ""
  } (${running.clientRuntime}) that decodes the chunked body and the events by hand. The same process publishes through B (\`POST /publish\`, a batch per 10 ms tick, one POST at a time; the hot topic's events on a connection of their own, as a second publisher), stamping each event with the time its batch left, so latency is POST sent → event parsed at the client, on one clock. Open-files limit (\`ulimit -n\` via \`sh -c\`): ${limits}. The machine has 2 cores shared with other work: the "other processes" columns say how much of them it took meanwhile.
`;
}

function fanOutReport(bench: Bench, part: FanOutPart): string {
  const { baseline, fanOut, starved, idle, loaded } = part;
  const phases = [baseline, fanOut, starved];
  const subscribers = loaded.subscribers - idle.subscribers;
  const clientCpu = Math.max(
    ...phases.map((p) => p.cpu.client / p.seconds / bench.clients.length),
  );
  const clientLag = Math.max(...phases.map((p) => p.clientLagP99));
  const perSubscriber = (key: "rss" | "heap" | "heapTotal") =>
    `${fixed((loaded[key]! - idle[key]!) / subscribers / 1024, 1)} KiB`;
  return `
## Latency, publish on B → delivery from A

Every delivery is checked before timings count: each stream must get its own topic's events 0, 1, 2, … with none missing, repeated or out of order (check column). Latencies are split into ${ROUNDS} rounds by publish time; "p99 × baseline" compares with one topic and one subscriber at the same rate, measured first in the same run (after a ${WARM_UP_SECONDS} s warm-up).

${latencyTable(phases, baseline)}

The quiet events' latency in parts, p50 / p99 in ms: until B answered their POST (the append's round trip to Redis: B's queue, Redis's work), until a plain Redis subscriber in the client process got them from their shard channels (a raw connection of its own, \`SSUBSCRIBE\`d to the same topics), and until A delivered them (the table above).

${splitTable(phases)}

## Where the time goes

CPU is utime + stime from /proc/<pid>/stat over the phase, as a share of one core; per delivery (A) it is divided by the events delivered, per publish (B, Redis) by the events published. A's CPU was also read for ${IDLE_SECONDS} s without publishing, with the same subscribers, just before (in brackets): "above idle" leaves that out. "Other processes" is the machine's busy time (/proc/stat) minus these processes'. Redis's busiest commands come from \`INFO commandstats\` (time per call is wall time inside Redis).

${costTable(phases)}

Client: at most ${
    fixed(100 * clientCpu, 0)
  } % of a core per client process, so ${
    clientCpu > 0.8
      ? "**it may have been the bottleneck** (over 80 % of a core)"
      : "not the bottleneck (under 80 % of a core)"
  }; its 10 ms publish ticks ran up to ${
    ms(clientLag)
  } ms late (p99), waiting for a core.

## Connections and memory with ${
    subscribers.toLocaleString("en-US")
  } subscribers on A

${
    table(
      [
        "",
        "Redis connections (CLIENT LIST, by name)",
        `≤ ${TARGET_CONNECTIONS}`,
        "RSS",
        "V8 heap used / committed, after a full GC",
      ],
      [
        [
          "A, idle",
          idle.aConnections,
          mark(idle.a <= TARGET_CONNECTIONS),
          mib(idle.rss),
          `${mib(idle.heap)} / ${mib(idle.heapTotal)}`,
        ],
        [
          `A, ${subscribers.toLocaleString("en-US")} subscribers`,
          byName(part.held.a),
          mark(total(part.held.a) <= TARGET_CONNECTIONS),
          mib(loaded.rss),
          `${mib(loaded.heap)} / ${mib(loaded.heapTotal)}`,
        ],
        [
          "A, after the starvation run",
          byName(part.heldAfter.a),
          mark(total(part.heldAfter.a) <= TARGET_CONNECTIONS),
          mib(part.rssAfter),
          "—",
        ],
        [
          "B (publishing)",
          byName(part.heldAfter.b),
          mark(total(part.heldAfter.b) <= TARGET_CONNECTIONS),
          mib(part.bRss),
          "—",
        ],
      ],
    )
  }

Per subscriber on A (growth from idle to ${
    subscribers.toLocaleString("en-US")
  } subscribers, divided by them): ${perSubscriber("rss")} of RSS, of which ${
    perSubscriber("heapTotal")
  } is V8 heap committed (${
    perSubscriber("heap")
  } in use); the rest is outside the JS heap (the runtime's HTTP server and sockets). Opening them took ${
    fixed(part.subscribeSeconds, 1)
  } s (${
    fixed(subscribers / part.subscribeSeconds, 0)
  }/s, until Redis had every shard channel); after they all hung up, A had no topic and Redis no shard channel within ${
    fixed(part.unsubscribeSeconds, 1)
  } s${part.unsubscribeSettle ? ` ✗ ${part.unsubscribeSettle}` : ""}.
`;
}

interface ChurnPart {
  result: ChurnResult;
  errors: string[];
}

/** Part 3: short-lived streams to fresh topics. */
async function churnPart(bench: Bench): Promise<ChurnPart> {
  const result = await churn(bench, SECONDS);
  const sum = (key: keyof ClientChurn) =>
    result.replies.reduce((n, reply) => n + (reply[key] as number), 0);
  const errors = [
    ...result.replies.flatMap((reply) => reply.errors),
    ...(result.settle ? [result.settle] : []),
  ];
  if (sum("failed") > 0) errors.unshift(`${sum("failed")} streams failed`);
  if (sum("skipped") > 0) {
    errors.unshift(`${sum("skipped")} not opened (too many still opening)`);
  }
  if (errors.length > 0) log(`churn: ✗ ${errors.slice(0, 8).join("; ")}`);
  return { result, errors };
}

function churnReport({ result, errors }: ChurnPart): string {
  const { replies, during, cpu } = result;
  const sum = (key: keyof ClientChurn) =>
    replies.reduce((n, reply) => n + (reply[key] as number), 0);
  const every = Math.max(1, Math.round(during.length / 6));
  return `
## Topic churn: ${
    CHURN_RATE.toLocaleString("en-US")
  } subscribe/unsubscribe per second for ${SECONDS} s

Each stream asks A for a fresh topic, waits for the response head, stays ${HOLD_MS} ms and hangs up (at most ${
    CHURN_OPENING.toLocaleString("en-US")
  } opening at once). A is a fresh process, and a ${CHURN_WARM_UP_SECONDS} s churn at the same rate comes first, so "before" is a warmed-up instance (its RSS when started is in brackets). "During" is the largest of ${during.length} once-a-second samples; "after" is once A has no topic left, 2 s later. RSS and heap count as back when within ${
    100 * MEMORY_TOLERANCE
  } % of before. TIME_WAIT counts come from \`ss -tan state time-wait\`. A's listener lets ${result.backlog} connections wait to be accepted; while the churn ran, the kernel dropped ${
    result.overflows.toLocaleString("en-US")
  } connection attempts for full listen queues (ListenOverflows in /proc/net/netstat, the whole machine), each retried by the client's kernel 1, 3, 7 s later.

${churnTable(result)}

A's RSS through the churn (every ${every} s): ${
    during.filter((_, i, all) => i % every === 0 || i === all.length - 1)
      .map((s) => fixed(s.rss / MiB, 0)).join(", ")
  } MiB.

${
    table(
      [
        "streams opened",
        "per second",
        "response head p50 / p99",
        "A CPU",
        "Redis CPU",
        "client CPU",
        "other processes' CPU",
        "check",
      ],
      [[
        sum("started").toLocaleString("en-US"),
        fixed(sum("rate"), 0),
        `${ms(median(replies.map((r) => r.headP50)))} / ${
          ms(Math.max(...replies.map((r) => r.headP99)))
        } ms`,
        percent(cpu.a, cpu.seconds),
        percent(cpu.redis, cpu.seconds),
        percent(cpu.client, cpu.seconds),
        percent(cpu.others, cpu.seconds),
        check(errors),
      ]],
    )
  }
`;
}

async function main(): Promise<string> {
  const running = await setUp();
  try {
    const { bench } = running;
    let markdown = intro(running);
    if (ONLY !== "churn") {
      markdown += fanOutReport(bench, await fanOutPart(bench));
    }
    if (ONLY !== "fan-out") {
      if (ONLY !== "churn") {
        // A fresh instance A: what part 1 left in its memory would hide
        // what churn does to it.
        await bench.a.child.stop();
        bench.a = await bench.startA();
      }
      markdown += churnReport(await churnPart(bench));
    }
    return markdown;
  } finally {
    await running.stop();
  }
}

console.log(await main());
