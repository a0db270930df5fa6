/**
 * The Redis store benchmark: cross-instance latency. Instance A (a hub on
 * its own redisStore and connections) publishes; instance B (another hub
 * and store on the same Redis) delivers to its subscribers. Latency is
 * publish() called on A → the event out of each of B's subscriptions, so it
 * covers XADD, B's blocking XREAD waking up, and the fan-out. Events are
 * paced (not a flood), as live traffic is.
 *
 * Needs a Redis: `--redis=URL`, else SSEKIT_REDIS_URL, else
 * redis://127.0.0.1:6379 (`node scripts/redis.mjs` starts one and prints its
 * URL). Run it with `deno run -A bench/redis.ts` or `bun bench/redis.ts`.
 * `--events=N` shrinks a run. Prints markdown.
 *
 * @module
 */

import process from "node:process";
import { createHub, type Hub } from "../src/hub.ts";
import { redisStore } from "../src/redis.ts";
import type { SSEEvent } from "../src/types.ts";
import {
  fixed,
  numberArg,
  quantile,
  runtimeVersion,
  sleep,
  table,
  textArg,
} from "./_util.ts";

const url = textArg("redis") ?? process.env.SSEKIT_REDIS_URL ??
  "redis://127.0.0.1:6379";
const events = numberArg("events", 1_000);

/** Milliseconds from each publish on `a` to each subscriber of `b`. */
async function measure(a: Hub, b: Hub, subscribers: number) {
  const topic = `latency-${subscribers}`;
  const subs = Array.from({ length: subscribers }, () => b.subscribe(topic));
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  const readers = subs.map(async (sub) => {
    for (let i = 0; i < events; i++) {
      const { value } = await sub.next();
      const at = sent.get(String((value as SSEEvent).data));
      if (at !== undefined) latencies.push(performance.now() - at);
    }
  });
  // Lets B's tail reach its blocking XREAD before the first publish.
  await sleep(100);
  const deadline = Date.now() + 60_000;
  for (let i = 0; i < events && Date.now() < deadline; i++) {
    sent.set(String(i), performance.now());
    await a.publish(topic, String(i));
    await sleep(1);
  }
  await Promise.race([Promise.all(readers), sleep(10_000)]);
  for (const sub of subs) await sub.return!();
  return latencies;
}

const prefix = `ssekit-bench:${Date.now()}:`;
const a = createHub({ store: redisStore({ redis: url, prefix }) });
const b = createHub({ store: redisStore({ redis: url, prefix }) });
const rows: string[][] = [];
try {
  for (const subscribers of [1, 100]) {
    const latencies = await measure(a, b, subscribers);
    rows.push([
      String(subscribers),
      String(latencies.length),
      fixed(quantile(latencies, 0.5), 2),
      fixed(quantile(latencies, 0.99), 2),
      fixed(Math.max(...latencies), 2),
    ]);
  }
} finally {
  await Promise.all([a.close(), b.close()]);
}
console.log(
  `Cross-instance latency over Redis, ${runtimeVersion()}, ${events} paced events\n`,
);
console.log(
  table(["subscribers on B", "deliveries", "p50 ms", "p99 ms", "max ms"], rows),
);
