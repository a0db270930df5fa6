/**
 * nchan's server for bench/fanout.ts, the C reference of issue 17: nginx
 * (one worker, started by scripts/nginx.mjs `startNginx`) with the nchan
 * module, driven by the same JSON lines on stdin as
 * bench/_fanout_server.ts. Run as `deno run -A
 * bench/_fanout_nchan.ts` with BENCH_KEEP_ALIVE (ms) set, once
 * bench/fanout.ts made sure the module is installed (scripts/nginx.mjs
 * `ensureNchan()`); Deno only (not in bench/tsconfig.json: it imports
 * scripts/*.mjs).
 *
 * Every stream is `GET /`, an EventSource subscriber of one channel; this
 * process publishes by `POST /pub` on one keep-alive connection, the body
 * `<sequence> <publish time, µs since the epoch>`, which nchan sends as
 * `data:` under an `id:` of its own (`<time>:<index>`, which the client
 * skips). nchan pings every BENCH_KEEP_ALIVE rounded up to whole seconds,
 * configured as the comment line `:ping`: its default ping, an `event:
 * ping` with no comment, is not what the client counts as a keep-alive.
 *
 * - `info`: the URL, the pid of nginx's worker (whose CPU counts, not the
 *   master's) and nginx's version;
 * - `stats`: the channel's subscribers (nchan's channel info) and the
 *   worker's RSS; no `heapUsed`, nginx has no garbage-collected heap;
 * - `publish { count, rate }`: `rate` per second, or with `rate` 0 each
 *   POST once the previous one was answered.
 *
 * nginx stops when stdin ends.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { NCHAN_MODULE, NGINX, startNginx } from "../scripts/nginx.mjs";
import { sleep } from "./_util.ts";
import { answerCommands, nowMicros } from "./_fanout_worker.ts";

// Bounds each request to nginx: a wedged nginx fails the run, not hangs it.
const REQUEST_MS = 10_000;
const keepAlive = Number(process.env.BENCH_KEEP_ALIVE);
if (!(keepAlive > 0)) throw new RangeError("BENCH_KEEP_ALIVE: milliseconds");
/** nchan pings in whole seconds. */
const PING_SECONDS = Math.max(1, Math.ceil(keepAlive / 1_000));

/** The soft limit on open files `limited()` in bench/fanout.ts set for us. */
function openFilesLimit(): number {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n")
    .find((line) => line.startsWith("Max open files"))!;
  return Number(line.split(/\s+/)[3]);
}

// The server block, in docs/nginx.conf's form: scripts/nginx.mjs puts
// the address in for `listen 80;`, and the main and http contexts around it.
const SERVER = `server {
    listen 80;
    # One publisher connection for the whole run.
    keepalive_requests 1000000;

    location = / {
        nchan_subscriber eventsource;
        nchan_channel_id fanout;
        nchan_subscriber_first_message newest;
        nchan_eventsource_ping_interval ${PING_SECONDS};
        nchan_eventsource_ping_comment ping;
        nchan_eventsource_ping_event "";
    }

    location = /pub {
        nchan_publisher;
        nchan_channel_id fanout;
        # Far more than a burst (200 events): none is ever dropped.
        nchan_message_buffer_length 10000;
        nchan_message_timeout 1h;
    }
}
`;

/** The one child of `parent`: nginx's master of its shell, its worker of it. */
async function childOf(parent: number): Promise<number> {
  const file = `/proc/${parent}/task/${parent}/children`;
  for (let tries = 0; tries < 100; tries++) {
    const children = readFileSync(file, "utf8").trim().split(/\s+/);
    if (children[0]) return Number(children[0]);
    await sleep(50);
  }
  throw new Error(`${parent} started no child in 5 s`);
}

/** Resident bytes of `pid`. */
function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1_024;
}

const nginx = await startNginx({
  config: SERVER,
  main: `load_module ${NCHAN_MODULE};`,
  connections: openFilesLimit(),
});
const url = nginx.url;
const publisher = new URL("/pub", url).href;
// Whose CPU counts: the worker, not the master or its shell.
const worker = await childOf(await childOf(nginx.pid!));

/** Subscribers of the channel, 0 before it exists. */
async function streams(): Promise<number> {
  const response = await fetch(publisher, {
    headers: { Accept: "text/json" },
    signal: AbortSignal.timeout(REQUEST_MS),
  });
  if (response.status === 404) {
    await response.body?.cancel();
    return 0;
  }
  return (await response.json()).subscribers;
}

async function post(body: string): Promise<void> {
  const response = await fetch(publisher, {
    method: "POST",
    body,
    signal: AbortSignal.timeout(REQUEST_MS),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`POST /pub: ${response.status}`);
}

let seq = 0;

/** Publishes `count` events, `rate` per second (0: back to back). */
async function publish(count: number, rate: number) {
  const first = nowMicros();
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    if (rate > 0) {
      const wait = start + (i * 1_000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
    }
    await post(`${seq} ${nowMicros()}`);
    seq++;
  }
  return { published: seq, first, last: nowMicros() };
}

async function stop() {
  await nginx.stop();
  process.exit(0);
}

answerCommands({
  info: () => ({
    url,
    pid: worker,
    runtime: spawnSync(NGINX, ["-v"], { encoding: "utf8" }).stderr.trim(),
  }),
  stats: async () => ({ streams: await streams(), rss: rss(worker) }),
  publish,
}, stop);
