// One hub instance on Redis, as its own process, for the multi-instance
// tests: `deno run -A tests/support/hub_server.ts` or `bun tests/support/hub_server.ts`,
// with SSEKIT_REDIS_URL and SSEKIT_REDIS_PREFIX set. Prints its URL, then
// serves GET /?topic=… (hub.response) and POST /?topic=… (publish the body,
// answer its id) until stdin closes.
import process from "node:process";
import { createHub } from "../../src/hub.ts";
import { redisStore } from "../../src/redis.ts";
import { serve } from "./server.ts";
import { exitWhenStdinCloses } from "./stdin.ts";

const hub = createHub({
  store: redisStore({
    redis: process.env.SSEKIT_REDIS_URL,
    prefix: process.env.SSEKIT_REDIS_PREFIX,
  }),
});
const server = await serve(async (request) => {
  const topic = new URL(request.url).searchParams.get("topic") ?? "news";
  if (request.method === "POST") {
    return new Response(await hub.publish(topic, await request.text()));
  }
  return hub.response(request, topic, { keepAlive: false });
});
console.log(server.url);

exitWhenStdinCloses(() => hub.close(), () => server.close());
