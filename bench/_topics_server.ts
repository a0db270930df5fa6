/**
 * One hub instance on Redis for bench/topics.ts, as its own process:
 * `deno run -A --v8-flags=--expose-gc bench/_topics_server.ts` or
 * `bun bench/_topics_server.ts`, with SSEKIT_REDIS_URL, SSEKIT_REDIS_PREFIX
 * and BENCH_KEEP_ALIVE (milliseconds, or `off`) set, and optionally
 * BENCH_MAX_QUEUE (the hub's maxQueue). Prints its URL, then
 * serves, with the runtime's own server, until stdin closes:
 *
 * - `GET /?topic=…`: `hub.response(request, topic)`;
 * - `POST /publish`: a JSON array of `[topic, data]` pairs, published in
 *   that order (so a topic's events get ids in it); answers how many;
 * - `GET /stats`: the process id, `hub.stats()` and the heap in use, after
 *   a full garbage collection with `?gc=1`.
 *
 * Like tests/support/hub_server.ts, plus the batch publish and the stats the
 * benchmark needs.
 *
 * @module
 */

import process from "node:process";
import { createHub } from "../src/hub.ts";
import { redisStore } from "../src/redis.ts";
import { serve } from "../tests/support/server.ts";
import { collectGarbage, runtimeVersion, sleep } from "./_util.ts";
import { exitWhenStdinCloses } from "../tests/support/stdin.ts";

const keepAliveSetting = process.env.BENCH_KEEP_ALIVE ?? "off";
const keepAlive = keepAliveSetting === "off" ? false : Number(keepAliveSetting);
if (
  keepAlive !== false && !(Number.isSafeInteger(keepAlive) && keepAlive > 0)
) {
  throw new RangeError(
    `BENCH_KEEP_ALIVE must be "off" or milliseconds, got ${keepAliveSetting}`,
  );
}

const maxQueue = process.env.BENCH_MAX_QUEUE;
const hub = createHub({
  ...(maxQueue ? { maxQueue: Number(maxQueue) } : {}),
  store: redisStore({
    redis: process.env.SSEKIT_REDIS_URL,
    prefix: process.env.SSEKIT_REDIS_PREFIX,
  }),
});

function badRequest(message: string): Response {
  return new Response(message, { status: 400 });
}

async function publish(request: Request): Promise<Response> {
  let pairs: unknown;
  try {
    pairs = await request.json();
  } catch {
    return badRequest("expected a JSON body");
  }
  if (
    !Array.isArray(pairs) ||
    !pairs.every((pair) =>
      Array.isArray(pair) && typeof pair[0] === "string" &&
      typeof pair[1] === "string"
    )
  ) {
    return badRequest("expected an array of [topic, data] string pairs");
  }
  // Called one after the other within this task: a topic's events are
  // appended, and get their ids, in the order they came.
  const ids = (pairs as [string, string][]).map(([topic, data]) =>
    hub.publish(topic, data)
  );
  try {
    await Promise.all(ids);
  } catch (error) {
    return new Response(String(error), { status: 500 });
  }
  return new Response(String(ids.length));
}

async function stats(url: URL): Promise<Response> {
  if (url.searchParams.has("gc")) {
    // A few rounds, so finalizers' garbage goes too.
    for (let i = 0; i < 3; i++) {
      collectGarbage();
      await sleep(20);
    }
  }
  return Response.json({
    pid: process.pid,
    runtime: runtimeVersion(),
    ...process.memoryUsage(),
    ...hub.stats(),
  });
}

const server = await serve((request) => {
  const url = new URL(request.url);
  if (request.method === "POST" && url.pathname === "/publish") {
    return publish(request);
  }
  if (url.pathname === "/stats") return stats(url);
  const topic = url.searchParams.get("topic");
  if (!topic) return badRequest("expected ?topic=…");
  return hub.response(request, topic, { keepAlive });
});
console.log(server.url);

exitWhenStdinCloses(() => hub.close(), () => server.close());
