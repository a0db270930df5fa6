// An instance that runs one hub.relay on Redis and is then killed, for the
// test that followers elsewhere are not left waiting: `deno run -A`, `bun`
// or `node` (compiled) with SSEKIT_REDIS_URL, SSEKIT_REDIS_PREFIX and
// SSEKIT_TOPIC set. Prints a URL once the run holds its topic, then relays
// an upstream that sends a token every 50 ms and never ends.
import process from "node:process";
import { createHub, createSSEStream } from "../../mod.ts";
import { redisStore } from "../../src/redis.ts";
import { sleep } from "./time.ts";
import { exitWhenStdinCloses } from "./stdin.ts";

const hub = createHub({
  store: redisStore({
    redis: process.env.SSEKIT_REDIS_URL,
    prefix: process.env.SSEKIT_REDIS_PREFIX,
  }),
});
await hub.relay(
  process.env.SSEKIT_TOPIC!,
  (signal) =>
    createSSEStream(
      async function* () {
        for (let i = 0;; i++) {
          yield { data: `t${i}` };
          await sleep(50);
        }
      }(),
      { signal },
    ),
);
console.log("relay://running");

exitWhenStdinCloses();
