/**
 * One hub instance on Redis for bench/relays.ts, as its own process: `deno
 * run -A bench/_relays_server.ts` or `bun bench/_relays_server.ts`, with
 * SSEKIT_REDIS_URL, SSEKIT_REDIS_PREFIX, BENCH_UPSTREAM (the fake upstream's
 * URL) and BENCH_MAX_RELAYS set (and BENCH_AUTO_PIPELINING, see below). Prints its URL, then serves, with the
 * runtime's own server, until stdin closes:
 *
 * - `POST /start?topic=…&tokens=N&rate=R`: `hub.relay(topic, …)` of an
 *   upstream reply of N tokens at R a second, fetched with
 *   examples/openai_relay.ts's `completionRequest` and mapped with its
 *   `tokenOf` (each token's content as a JSON string; `[DONE]` and the
 *   role and stop chunks publish nothing: the topic's end is the run's);
 *   answers `{ topic, start }`.
 * - `GET /follow?topic=…`: `hub.response(request, topic, { missing: "404" })`.
 * - `GET /stats`: pid, runtime, the runs started and how they ended (or
 *   why they could not start), `hub.stats()`; with `?latency`, since the
 *   last `/stats?reset`: p50/p99/max of each token's upstream send → the
 *   relay's map, of the store's appends (call → answer), and of how late a
 *   20 ms timer fires (event-loop lag).
 *
 * @module
 */

import process from "node:process";
import { Redis } from "ioredis";
import { createHub } from "../src/hub.ts";
import type { HubRelayOutcome } from "../src/hub_relay.ts";
import { redisStore } from "../src/redis.ts";
import { completionRequest, tokenOf } from "../examples/openai_relay.ts";
import { serve } from "../tests/support/server.ts";
import { quantile, runtimeVersion } from "./_util.ts";
import { exitWhenStdinCloses } from "../tests/support/stdin.ts";

const upstream = process.env.BENCH_UPSTREAM;
if (!upstream) throw new TypeError("BENCH_UPSTREAM must be the upstream's URL");
// BENCH_AUTO_PIPELINING=1: the store runs on a client of ours that sends
// the commands issued in one tick in one write (ioredis's
// enableAutoPipelining; the tail's subscriptions, on a duplicate of it,
// are left out of it), to see what coalescing the writes saves.
const autoPipelined = process.env.BENCH_AUTO_PIPELINING === "1"
  ? new Redis(process.env.SSEKIT_REDIS_URL ?? "redis://127.0.0.1:6379", {
    connectionName: "ssekit",
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: ["ssubscribe", "sunsubscribe"],
  })
  : undefined;
const store = redisStore({
  redis: autoPipelined ?? process.env.SSEKIT_REDIS_URL,
  prefix: process.env.SSEKIT_REDIS_PREFIX,
});
const hub = createHub({
  maxRelays: Number(process.env.BENCH_MAX_RELAYS ?? 1_000),
  // Its appends timed: a run awaits each publish before it reads on.
  store: {
    ...store,
    async append(topic, record) {
      const start = performance.now();
      try {
        return await store.append(topic, record);
      } finally {
        if (appends.length < MAX_SAMPLES) {
          appends.push(performance.now() - start);
        }
      }
    },
  },
});

const outcomes: Record<HubRelayOutcome | "started" | "refused", number> = {
  started: 0,
  refused: 0,
  completed: 0,
  aborted: 0,
  failed: 0,
};
/** The first few reasons a start was refused, for the report. */
const refusals: string[] = [];

/** Wall-clock milliseconds with fractions, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();
// Where a token waits before the hub publishes it: upstream send → the
// relay's map (the upstream's socket, this event loop, and the run's
// previous publish, which it awaits). Kept until the next `?reset`.
const MAX_SAMPLES = 1_000_000;
let ingest: number[] = [];
// How long each append takes to be answered (the store's round trip).
let appends: number[] = [];
// How late a 20 ms timer fires: how starved this process is for CPU.
const LAG_EVERY_MS = 20;
let lags: number[] = [];
let expected = performance.now() + LAG_EVERY_MS;
setInterval(() => {
  const at = performance.now();
  if (lags.length < MAX_SAMPLES) lags.push(Math.max(0, at - expected));
  expected = at + LAG_EVERY_MS;
}, LAG_EVERY_MS);

function summary(samples: number[]) {
  if (samples.length === 0) return { p50: null, p99: null, max: null };
  return {
    p50: quantile(samples, 0.5),
    p99: quantile(samples, 0.99),
    max: samples.reduce((most, value) => Math.max(most, value), 0),
  };
}

function badRequest(message: string): Response {
  return new Response(message, { status: 400 });
}

async function start(url: URL): Promise<Response> {
  const topic = url.searchParams.get("topic");
  const tokens = url.searchParams.get("tokens");
  const rate = url.searchParams.get("rate");
  if (!topic || !tokens || !rate) {
    return badRequest("expected ?topic=…&tokens=N&rate=R");
  }
  const upstreamUrl = new URL("v1/chat/completions", upstream);
  upstreamUrl.search = new URLSearchParams({ tokens, rate, tag: topic })
    .toString();
  try {
    const run = await hub.relay(
      topic,
      (signal) => completionRequest(upstreamUrl.href, topic, signal),
      {
        map: (message) => {
          const token = tokenOf(message);
          if (token === undefined) return undefined;
          // `"<topic> <index> <sent>"`
          const sent = Number(token.slice(1, -1).split(" ")[2]);
          if (ingest.length < MAX_SAMPLES) ingest.push(now() - sent);
          return { data: token };
        },
      },
    );
    outcomes.started++;
    run.done.then((outcome) => outcomes[outcome]++);
    return Response.json({ topic: run.topic, start: run.start });
  } catch (error) {
    outcomes.refused++;
    if (refusals.length < 5) refusals.push(String(error));
    return new Response(String(error), { status: 503 });
  }
}

const server = await serve((request) => {
  const url = new URL(request.url);
  if (request.method === "POST" && url.pathname === "/start") {
    return start(url);
  }
  if (url.pathname === "/follow") {
    const topic = url.searchParams.get("topic");
    if (!topic) return badRequest("expected ?topic=…");
    return hub.response(request, topic, { missing: "404" });
  }
  if (url.pathname === "/stats") {
    // Sorting the samples costs this process CPU: only when asked, once
    // per round, not on every poll.
    const latency = url.searchParams.has("latency");
    const stats = {
      pid: process.pid,
      runtime: runtimeVersion(),
      ...outcomes,
      refusals,
      ...hub.stats(),
      ...(latency
        ? {
          ingest: summary(ingest),
          append: summary(appends),
          loopLag: summary(lags),
        }
        : {}),
    };
    if (url.searchParams.has("reset")) {
      ingest = [];
      appends = [];
      lags = [];
    }
    return Response.json(stats);
  }
  return new Response("not found", { status: 404 });
});
console.log(server.url);

exitWhenStdinCloses(() =>
  Promise.all([hub.close(), server.close()]).then(() =>
    autoPipelined?.disconnect()
  )
);
