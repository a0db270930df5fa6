/**
 * Fan-out at the machine's limit (issue 17): one topic, N streams, each
 * event delivered to every stream, over real sockets on 127.0.0.1.
 *
 * For each runtime (Deno.serve, Bun.serve, Node's node:http) and each
 * implementation (bench/_fanout_server.ts: ssekit's hub, a plain
 * hand-written baseline, better-sse, Hono), and for nginx's nchan module,
 * the C reference issue 17 measures against ("runtime" nginx, its one
 * implementation nchan, driven by bench/_fanout_nchan.ts and installed by
 * scripts/nginx.mjs when missing), a fresh server process, and a
 * client process in C (bench/fanout_client.c, built here with the system
 * `gcc`) that holds all N streams on one epoll loop, decodes them by hand
 * and checks every delivery: each stream must see events 0, 1, 2, … with
 * none missing or repeated, before any timing counts. A C client because a
 * JavaScript one costs about as much per event as the servers it times,
 * on the same two cores.
 *
 * Each run, in order:
 *
 * 1. accept: the client opens N streams (256 connecting at once); the
 *    rate is N / the time until every response head came;
 * 2. memory: the server's RSS growth from before to after (full garbage
 *    collection first) / N;
 * 3. idle: the server's CPU (utime + stime, /proc/<pid>/stat) over
 *    `--idle-seconds` with every stream open and a keep-alive comment
 *    every `--keep-alive` ms (ssekit's and better-sse's own timers; one
 *    shared `setInterval` for plain and Hono; nchan's own ping, a `:ping`
 *    comment every `--keep-alive` rounded up to whole seconds, which the
 *    check then expects); each stream must have got its comments;
 * 4. a warm-up burst, then latency: `--latency-events` events at 1/s and
 *    five times as many at 10/s; publish → arrival at the client, on one
 *    clock (CLOCK_REALTIME), over every delivery;
 * 5. saturation: a burst of ⌈`--deliveries` / N⌉ events (at most 200,
 *    under the hub's default maxQueue), published back to back, one per
 *    task (`setImmediate`) so the server's I/O runs in between (nchan:
 *    one POST after the other, each once the previous was answered);
 *    deliveries/s is N × events / (last arrival − first publish), CPU per
 *    delivery the server's CPU over the burst / deliveries.
 *
 * Rounds rotate the order of the implementations; tables show medians.
 * nchan has no plain baseline: it is a row of its own in the detail table,
 * and the targets table gives each runtime's ssekit against it (× nchan).
 * The machine's other load is in the "others" column: the machine is
 * shared.
 *
 * Run: `deno run -A bench/fanout.ts` with node_modules/.bin on PATH (Node's
 * server is compiled with tsc into .build/bench-out first when stale).
 * Options: `--n=1000,10000` (the stream counts; at most `ulimit -Hn` −
 * 1,024), `--rounds=3`, `--runtimes=deno,bun,node,nginx`,
 * `--impls=ssekit,plain,plain-bytes,better-sse,hono,nchan` (also
 * `plain-copy` on Node; nginx runs nchan only, and only nginx runs it),
 * `--keep-alive=1000`, `--idle-seconds=4`,
 * `--latency-events=5`, `--deliveries=200000`, `--quick` (N = 1,000, one
 * round), `--cpu-prof` (each JavaScript server writes a V8 CPU profile into
 * .build/fanout-prof/; summarize them with bench/_fanout_profile.ts).
 * Prints markdown.
 *
 * @module
 */

import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { delimiter, join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { root } from "../tests/support/child.ts";
import {
  cpuSeconds,
  type JsonWorker,
  machineSeconds,
  startJsonWorker,
} from "./_proc.ts";
import {
  fixed,
  median,
  numberArg,
  rotate,
  runtimeVersion,
  scriptArgs,
  sleep,
  table,
} from "./_util.ts";

const args = scriptArgs();
const arg = (name: string) =>
  args.find((given) => given.startsWith(`--${name}=`))?.slice(name.length + 3);
const QUICK = args.includes("--quick");
const SIZES = (arg("n") ?? (QUICK ? "1000" : "1000,10000")).split(",").map(
  Number,
);
const ROUNDS = numberArg("rounds", QUICK ? 1 : 3);
const RUNTIMES = (arg("runtimes") ?? "deno,bun,node,nginx").split(",");
const IMPL_NAMES = (arg("impls") ??
  "ssekit,plain,plain-bytes,better-sse,hono,nchan").split(",");
const KEEP_ALIVE = numberArg("keep-alive", 1_000);
/** The keep-alive a runtime's servers keep: nchan pings in whole seconds. */
const keepAliveOf = (runtime: string) =>
  runtime === "nginx"
    ? Math.max(1, Math.ceil(KEEP_ALIVE / 1_000)) * 1_000
    : KEEP_ALIVE;
const IDLE_SECONDS = numberArg("idle-seconds", 4);
const LATENCY_EVENTS = numberArg("latency-events", 5);
const DELIVERIES = numberArg("deliveries", 200_000);
// Under the hub's default maxQueue (256): a burst never cuts off a stream.
const MAX_BURST = 200;
const WAIT_MS = 30_000;
const TARGETS = {
  deliveries: 1.0,
  cpu: 1.2,
  p99: 1.2,
  idle: 2,
};

// The report so far, rewritten after every run.
const PARTIAL = join(root(), ".build", "fanout-partial.md");
const log = (message: string) => console.error(`[fanout] ${message}`);
const env = {
  PATH: join(root(), "node_modules", ".bin") + delimiter + process.env.PATH,
};

// ---------------------------------------------------------------------------
// Building the client and Node's server; installing nchan

function newer(output: string, inputs: string[]): boolean {
  if (!existsSync(output)) return false;
  const built = statSync(output).mtimeMs;
  return inputs.every((input) => statSync(input).mtimeMs <= built);
}

function build(): string {
  const client = join(root(), ".build", "fanout_client");
  const source = join(root(), "bench", "fanout_client.c");
  if (!newer(client, [source])) {
    mkdirSync(join(root(), ".build"), { recursive: true });
    const gcc = spawnSync("gcc", ["-O2", "-Wall", "-o", client, source], {
      stdio: "inherit",
    });
    if (gcc.status !== 0) throw new Error("gcc failed on fanout_client.c");
  }
  if (RUNTIMES.includes("nginx")) {
    // apt-get's output to stderr: stdout is the report.
    const ensure = spawnSync("node", [
      "--input-type=module",
      "-e",
      'import { ensureNchan } from "./scripts/nginx.mjs"; ensureNchan();',
    ], {
      cwd: root(),
      stdio: ["ignore", 2, 2],
      env: { ...process.env, ...env },
    });
    if (ensure.status !== 0) throw new Error("nginx with nchan is missing");
  }
  if (RUNTIMES.includes("node")) {
    const compiled = join(
      root(),
      ".build",
      "bench-out",
      "bench",
      "_fanout_server.js",
    );
    const sources = ["src", "bench", "tests"].flatMap((dir) =>
      spawnSync("find", [join(root(), dir), "-name", "*.ts"], {
        encoding: "utf8",
      }).stdout.trim().split("\n")
    );
    if (!newer(compiled, sources)) {
      log("compiling bench/ for Node (tsc -p bench/tsconfig.json)");
      const tsc = spawnSync(
        "node",
        [
          join(root(), "node_modules", "typescript", "bin", "tsc"),
          "-p",
          join(root(), "bench", "tsconfig.json"),
        ],
        { stdio: "inherit", env: { ...process.env, ...env } },
      );
      if (tsc.status !== 0) throw new Error("tsc -p bench/tsconfig.json");
    }
  }
  return client;
}

// ---------------------------------------------------------------------------
// Processes

/** The machine's count of SYNs dropped for a full accept queue. */
function listenOverflows(): number {
  const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
  const names = lines.findIndex((line) => line.startsWith("TcpExt:"));
  const keys = lines[names].split(" ");
  const values = lines[names + 1].split(" ");
  return Number(values[keys.indexOf("ListenOverflows")]);
}

function sh(command: string): string {
  return spawnSync("sh", ["-c", command], { encoding: "utf8" }).stdout.trim();
}

const HARD_FILES = Number(sh("ulimit -Hn")) || Infinity;

/** `command` under `ulimit -n` enough for `sockets`, through sh, as the same process. */
function limited(sockets: number, command: string[]): [string, string[]] {
  const need = sockets + 1_024;
  if (need > HARD_FILES) {
    throw new RangeError(
      `${sockets} streams need ulimit -n ${need}; the hard limit is ${HARD_FILES}`,
    );
  }
  return ["sh", ["-c", `ulimit -n ${need} && exec "$0" "$@"`, ...command]];
}

/** nginx runs nchan alone; the plain-* variants are Node's. */
function implRuns(runtime: string, impl: string): boolean {
  if (runtime === "nginx" || impl === "nchan") {
    return runtime === "nginx" && impl === "nchan";
  }
  return !impl.startsWith("plain-") || runtime === "node";
}

// With --cpu-prof, each server writes a V8 CPU profile when it exits.
const PROFILE_DIR = args.includes("--cpu-prof")
  ? join(root(), ".build", "fanout-prof")
  : undefined;

function serverCommand(runtime: string, impl: string, n: number): string[] {
  if (runtime === "nginx") {
    return ["deno", "run", "-A", "bench/_fanout_nchan.ts"];
  }
  const profile = PROFILE_DIR
    ? [
      "--cpu-prof",
      `--cpu-prof-dir=${PROFILE_DIR}`,
      `--cpu-prof-name=${runtime}-${impl}-${n}-${Date.now()}.cpuprofile`,
      "--cpu-prof-interval=250",
    ]
    : [];
  if (runtime === "deno") {
    return [
      "deno",
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      ...profile,
      "bench/_fanout_server.ts",
    ];
  }
  if (runtime === "bun") return ["bun", ...profile, "bench/_fanout_server.ts"];
  return [
    "node",
    "--expose-gc",
    ...profile,
    join(".build", "bench-out", "bench", "_fanout_server.js"),
  ];
}

interface Client {
  pid: number;
  send<T>(line: string, timeoutMs: number): Promise<T>;
  stop(): void;
}

/** The C client: one command line at a time, one JSON line back. */
async function startClient(
  binary: string,
  url: string,
  sockets: number,
): Promise<Client> {
  const [command, commandArgs] = limited(sockets, [
    binary,
    new URL(url).port,
    "/",
  ]);
  const child = spawn(command, commandArgs, {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines: string[] = [];
  let waiter: (() => void) | undefined;
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line);
    waiter?.();
  });
  const nextLine = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (lines.length === 0) {
      if (child.exitCode !== null) throw new Error("the client exited");
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no answer from the client in ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        waiter = resolve;
        setTimeout(resolve, Math.min(left, 1_000));
      });
      waiter = undefined;
    }
    return lines.shift()!;
  };
  if (await nextLine(10_000) !== "ready") throw new Error("client not ready");
  return {
    pid: child.pid!,
    async send<T>(line: string, timeoutMs: number): Promise<T> {
      child.stdin!.write(line + "\n");
      const reply = JSON.parse(await nextLine(timeoutMs));
      if (!reply.ok) throw new Error(`client: ${reply.error}`);
      return reply as T;
    },
    stop() {
      child.stdin!.end();
      setTimeout(() => child.kill("SIGKILL"), 2_000).unref();
    },
  };
}

// ---------------------------------------------------------------------------
// One run: one implementation on one runtime with N streams

interface Expectation {
  events: number;
  missing: number;
  repeated: number;
  malformed: number;
  closed: number;
  p50: number;
  p99: number;
  max: number;
  first: number;
  last: number;
  minComments: number;
}

interface Published {
  published: number;
  first: number;
  last: number;
}

interface Stats {
  streams: number;
  rss: number;
  /** None from nginx, which has no garbage-collected heap. */
  heapUsed?: number;
}

interface Run {
  runtime: string;
  impl: string;
  n: number;
  acceptPerSecond: number;
  /** Microseconds of server CPU per stream opened. */
  acceptCpu: number;
  /** SYNs the kernel dropped for a full accept queue while they opened. */
  listenOverflows: number;
  bytesPerStream: number;
  heapPerStream: number;
  /** Share of one core. */
  idleCpu: number;
  p50At1: number;
  p99At1: number;
  p50At10: number;
  p99At10: number;
  deliveriesPerSecond: number;
  /** Microseconds of server CPU per delivery. */
  cpuPerDelivery: number;
  /** Shares of one core over the burst. */
  serverCpu: number;
  clientCpu: number;
  othersCpu: number;
  check: string[];
}

function checkOf(what: string, got: Expectation, want: number): string[] {
  const errors: string[] = [];
  if (got.missing) errors.push(`${what}: ${got.missing} missing`);
  if (got.repeated) errors.push(`${what}: ${got.repeated} repeated`);
  if (got.malformed) errors.push(`${what}: ${got.malformed} malformed`);
  if (got.closed) errors.push(`${what}: ${got.closed} streams closed`);
  if (got.events !== want) {
    errors.push(`${what}: ${got.events} of ${want} delivered`);
  }
  return errors;
}

async function oneRun(
  client: string,
  runtime: string,
  impl: string,
  n: number,
): Promise<Run> {
  const [command, commandArgs] = limited(n, serverCommand(runtime, impl, n));
  const server: JsonWorker = await startJsonWorker(
    command,
    commandArgs,
    {
      ...env,
      BENCH_IMPL: impl,
      BENCH_KEEP_ALIVE: String(KEEP_ALIVE),
    },
    `${impl} server on ${runtime}`,
  );
  let clientProcess: Client | undefined;
  try {
    const { url, pid } = await server.call<{ url: string; pid: number }>(
      { cmd: "info" },
      10_000,
    );
    const c = clientProcess = await startClient(client, url, n);
    const check: string[] = [];
    const before = await server.call<Stats>({ cmd: "stats", gc: true }, 10_000);

    // 1. Accept.
    const acceptCpu = cpuSeconds(pid);
    const overflows = listenOverflows();
    const connect = await c.send<
      { opened: number; failed: number; ms: number }
    >(
      `connect ${n}`,
      WAIT_MS * 2,
    );
    if (connect.failed) check.push(`${connect.failed} streams failed to open`);
    const acceptCpuPerStream = (cpuSeconds(pid) - acceptCpu) / n;
    const dropped = listenOverflows() - overflows;
    await sleep(500);
    const loaded = await server.call<Stats>({ cmd: "stats", gc: true }, 10_000);
    if (loaded.streams !== n) {
      check.push(`server has ${loaded.streams} of ${n}`);
    }

    // 3. Idle, with keep-alive comments.
    await c.send("reset", 5_000);
    const idleStart = cpuSeconds(pid);
    const idleWall = performance.now();
    await sleep(IDLE_SECONDS * 1_000);
    const idleCpu = (cpuSeconds(pid) - idleStart) /
      ((performance.now() - idleWall) / 1_000);
    let total = 0;
    const idle = await c.send<Expectation>(`expect ${total} 1000`, 5_000);
    const comments = Math.floor((IDLE_SECONDS * 1_000) / keepAliveOf(runtime)) -
      1;
    if (idle.minComments < comments) {
      check.push(
        `idle: a stream got ${idle.minComments} keep-alive comments, want ≥ ${comments}`,
      );
    }

    const burst = Math.min(MAX_BURST, Math.ceil(DELIVERIES / n));
    const phase = async (what: string, count: number, rate: number) => {
      await c.send("reset", 5_000);
      const cpuBefore = cpuSeconds(pid);
      const clientBefore = cpuSeconds(c.pid);
      const machineBefore = machineSeconds().busy;
      const published = await server.call<Published>(
        { cmd: "publish", count, rate },
        WAIT_MS + (count / (rate || Infinity)) * 1_000,
      );
      total += count;
      if (published.published !== total) {
        check.push(`${what}: server published ${published.published}`);
      }
      const got = await c.send<Expectation>(
        `expect ${total} ${WAIT_MS}`,
        WAIT_MS + 5_000,
      );
      const cpu = cpuSeconds(pid) - cpuBefore;
      const clientCpu = cpuSeconds(c.pid) - clientBefore;
      const machine = machineSeconds().busy - machineBefore;
      check.push(...checkOf(what, got, count * n));
      return { got, published, cpu, clientCpu, machine };
    };

    // 4. Warm-up, then latency (not while profiling: the profile is of
    // the burst).
    await phase("warm-up", Math.max(1, burst >> 1), 0);
    const at1 = PROFILE_DIR ? undefined : await phase("1/s", LATENCY_EVENTS, 1);
    const at10 = PROFILE_DIR
      ? undefined
      : await phase("10/s", LATENCY_EVENTS * 5, 10);

    // 5. Saturation.
    const saturated = await phase("burst", burst, 0);
    const seconds = (saturated.got.last - saturated.published.first) / 1e6;
    const deliveries = burst * n;
    if (check.length) log(`✗ ${check.slice(0, 4).join("; ")}`);
    return {
      runtime,
      impl,
      n,
      acceptPerSecond: n / (connect.ms / 1_000),
      acceptCpu: acceptCpuPerStream * 1e6,
      listenOverflows: dropped,
      bytesPerStream: (loaded.rss - before.rss) / n,
      heapPerStream: ((loaded.heapUsed ?? NaN) - (before.heapUsed ?? NaN)) / n,
      idleCpu,
      p50At1: at1?.got.p50 ?? NaN,
      p99At1: at1?.got.p99 ?? NaN,
      p50At10: at10?.got.p50 ?? NaN,
      p99At10: at10?.got.p99 ?? NaN,
      deliveriesPerSecond: deliveries / seconds,
      cpuPerDelivery: (saturated.cpu / deliveries) * 1e6,
      serverCpu: saturated.cpu / seconds,
      clientCpu: saturated.clientCpu / seconds,
      othersCpu: Math.max(
        0,
        (saturated.machine - saturated.cpu - saturated.clientCpu) / seconds,
      ),
      check,
    };
  } finally {
    // The server first: its profile then ends with the burst, not with
    // 10,000 streams closing.
    await server.stop();
    clientProcess?.stop();
  }
}

// ---------------------------------------------------------------------------
// The report

type Metric = Exclude<keyof Run, "runtime" | "impl" | "n" | "check">;

interface Summary {
  runtime: string;
  impl: string;
  n: number;
  rounds: number;
  median(metric: Metric): number;
  check: string[];
}

function summarize(runs: Run[]): Summary[] {
  const groups = new Map<string, Run[]>();
  for (const run of runs) {
    const key = `${run.n} ${run.runtime} ${run.impl}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((group) => ({
    runtime: group[0].runtime,
    impl: group[0].impl,
    n: group[0].n,
    rounds: group.length,
    median: (metric) => median(group.map((run) => run[metric])),
    check: [...new Set(group.flatMap((run) => run.check))],
  }));
}

const count = (value: number) => Math.round(value).toLocaleString("en-US");
const ms = (value: number) => fixed(value, value < 10 ? 2 : 1);
const percent = (share: number) => `${fixed(100 * share, 1)} %`;
const mark = (met: boolean) => (met ? "✓" : "✗");
const checkCell = (check: string[]) =>
  check.length === 0 ? "✓" : `✗ ${check.slice(0, 3).join("; ")}`;

/** The baseline on a runtime: plain, and on Node the faster of plain and plain-bytes. */
function baseline(rows: Summary[]): Summary | undefined {
  return rows.find((row) => row.impl === "plain");
}

function detailTable(rows: Summary[]): string {
  return table(
    [
      "runtime",
      "implementation",
      "deliveries/s",
      "× plain",
      "CPU/delivery",
      "× plain",
      "p50 / p99 at 1/s",
      "p99 × plain",
      "p50 / p99 at 10/s",
      "RSS / stream",
      "heap / stream",
      "accepts/s (SYNs dropped)",
      "CPU/accept",
      "idle CPU",
      "× plain",
      "CPU during burst: server / client / others",
      "check",
    ],
    rows.map((row) => {
      const plain = baseline(
        rows.filter((other) => other.runtime === row.runtime),
      );
      const ratio = (metric: Metric) =>
        plain ? `${fixed(row.median(metric) / plain.median(metric), 2)}×` : "—";
      return [
        row.runtime,
        row.impl,
        count(row.median("deliveriesPerSecond")),
        ratio("deliveriesPerSecond"),
        `${fixed(row.median("cpuPerDelivery"), 2)} µs`,
        ratio("cpuPerDelivery"),
        `${ms(row.median("p50At1"))} / ${ms(row.median("p99At1"))} ms`,
        ratio("p99At1"),
        `${ms(row.median("p50At10"))} / ${ms(row.median("p99At10"))} ms`,
        `${fixed(row.median("bytesPerStream") / 1024, 1)} KiB`,
        Number.isNaN(row.median("heapPerStream"))
          ? "—"
          : `${fixed(row.median("heapPerStream") / 1024, 1)} KiB`,
        `${count(row.median("acceptPerSecond"))} (${
          count(row.median("listenOverflows"))
        })`,
        `${fixed(row.median("acceptCpu"), 0)} µs`,
        percent(row.median("idleCpu")),
        ratio("idleCpu"),
        `${percent(row.median("serverCpu"))} / ${
          percent(row.median("clientCpu"))
        } / ${percent(row.median("othersCpu"))}`,
        checkCell(row.check),
      ];
    }),
  );
}

function targetTable(rows: Summary[]): string {
  const runtimes = [...new Set(rows.map((row) => row.runtime))];
  const nchan = rows.find((row) => row.impl === "nchan");
  return table(
    [
      "runtime",
      `deliveries/s × plain (≥ ${TARGETS.deliveries})`,
      "× better-sse (≥ 1)",
      "× Hono (≥ 1)",
      `CPU/delivery × plain (≤ ${TARGETS.cpu})`,
      `p99 at 1/s × plain (≤ ${TARGETS.p99})`,
      `idle CPU × plain (≤ ${TARGETS.idle})`,
      "deliveries/s / CPU/delivery × nchan",
    ],
    runtimes.flatMap((runtime) => {
      const of = (impl: string) =>
        rows.find((row) => row.runtime === runtime && row.impl === impl);
      const ssekit = of("ssekit");
      const plain = of("plain");
      if (!ssekit || !plain) return [];
      const faster = (other: Summary | undefined, at: number) => {
        if (!other) return "—";
        const ratio = ssekit.median("deliveriesPerSecond") /
          other.median("deliveriesPerSecond");
        return `${fixed(ratio, 2)}× ${mark(ratio >= at)}`;
      };
      const against = (other: Summary, metric: Metric) =>
        `${fixed(ssekit.median(metric) / other.median(metric), 2)}×`;
      const under = (metric: Metric, at: number) => {
        const ratio = ssekit.median(metric) / plain.median(metric);
        return `${fixed(ratio, 2)}× ${mark(ratio <= at)}`;
      };
      return [[
        runtime,
        faster(plain, TARGETS.deliveries),
        faster(of("better-sse"), 1),
        faster(of("hono"), 1),
        under("cpuPerDelivery", TARGETS.cpu),
        under("p99At1", TARGETS.p99),
        under("idleCpu", TARGETS.idle),
        nchan
          ? `${against(nchan, "deliveriesPerSecond")} / ${
            against(nchan, "cpuPerDelivery")
          }`
          : "—",
      ]];
    }),
  );
}

function report(runs: Run[], failures: string[], versions: string[]): string {
  const rows = summarize(runs);
  const sizes = [...new Set(rows.map((row) => row.n))];
  let markdown = `# Fan-out at the machine's limit

bench/fanout.ts (issue 17), run by ${runtimeVersion()}; servers: ${
    versions.join(", ")
  }. One topic, N streams on 127.0.0.1, each event to every stream. Per runtime and implementation a fresh server process (bench/_fanout_server.ts): ssekit is \`hub.response()\` on a memory store (Deno.serve, Bun.serve, \`ssekit/node\`); plain is a hand-written loop, \`res.write(text)\` per stream on Node (plain-bytes: one \`Uint8Array\` encoded once, written to every stream) and \`controller.enqueue(bytes)\` per stream on Deno and Bun; better-sse is a \`Channel\` and \`broadcast()\`; Hono is \`streamSSE\` and \`writeSSE()\` per stream (@hono/node-server on Node); nchan is nginx (one worker) with its nchan module, the C reference (bench/_fanout_nchan.ts), an EventSource subscriber location, each event a POST to its publisher location on one keep-alive connection once the previous one was answered, its publish time taken before the POST. The client is one C process (bench/fanout_client.c, epoll) holding every stream, checking every delivery (each stream sees 0, 1, 2, … once) before timings count. Keep-alive every ${
    fixed(KEEP_ALIVE / 1_000, 1)
  } s everywhere (ssekit's and better-sse's own per-stream timers; one shared \`setInterval\` for plain and Hono; nchan's \`nchan_eventsource_ping_interval\`, whole seconds, rounded up).

Deliveries/s: a burst of events published back to back (one per task), N × events / (last arrival − first publish). CPU per delivery: the server's utime + stime over the burst / deliveries. Latency: publish → arrival, p50 / p99 over every delivery, ${LATENCY_EVENTS} events at 1/s and ${
    LATENCY_EVENTS * 5
  } at 10/s. RSS and heap per stream: growth after opening N streams (full GC first) / N (nginx has no heap: "—"). Accepts/s: N / time until every response head came (256 connecting at once); on this VM the kernel drops SYNs for a full accept queue (ListenOverflows, in brackets, the whole machine) even with few connections in flight, and each costs a 1 s retransmit, so CPU per accept (the server's CPU while they opened / N) is the comparable figure. Idle CPU: the server's CPU over ${IDLE_SECONDS} s with every stream open, as a share of one core. Medians of ${ROUNDS} round(s); the machine (2 cores) was shared with other work, see the "others" share.
`;
  for (const n of sizes) {
    const at = rows.filter((row) => row.n === n);
    markdown += `
## N = ${count(n)}

Targets (issue 17, binding at N = 10,000): ssekit against the plain baseline of its runtime and the libraries.

${targetTable(at)}

${detailTable(at)}
`;
  }
  if (failures.length) {
    markdown += `\n## Failed runs\n\n${
      failures.map((failure) => `- ✗ ${failure}`).join("\n")
    }\n`;
  }
  return markdown;
}

// ---------------------------------------------------------------------------

function version(runtime: string): string {
  if (runtime !== "nginx") return sh(`${runtime} --version | head -1`);
  const nchan = sh("dpkg-query -W -f '${Version}' libnginx-mod-nchan");
  return `${sh("/usr/sbin/nginx -v 2>&1")} with nchan ${nchan}`;
}

async function main(): Promise<string> {
  const client = build();
  const runs: Run[] = [];
  const failures: string[] = [];
  const versions = RUNTIMES.map(version);
  for (const n of SIZES) {
    for (const runtime of RUNTIMES) {
      const impls = IMPL_NAMES.filter((impl) => implRuns(runtime, impl));
      for (let round = 0; round < ROUNDS; round++) {
        for (const impl of rotate(impls, round)) {
          log(`N = ${n}, ${runtime}, ${impl}, round ${round + 1}`);
          try {
            const run = await oneRun(client, runtime, impl, n);
            log(
              `  ${count(run.deliveriesPerSecond)} deliveries/s, ${
                fixed(run.cpuPerDelivery, 2)
              } µs CPU each, p99 at 1/s ${ms(run.p99At1)} ms, idle ${
                percent(run.idleCpu)
              }`,
            );
            runs.push(run);
            // So far, for a run cut short.
            writeFileSync(PARTIAL, report(runs, failures, versions));
          } catch (error) {
            log(`  failed: ${error}`);
            failures.push(`N = ${n}, ${runtime}, ${impl}: ${error}`);
          }
        }
      }
    }
  }
  return report(runs, failures, versions);
}

console.log(await main());
