// `node scripts/with-redis.mjs <command> [args…]`: runs a command with
// SSEKIT_REDIS_URL pointing at a Redis, which the Redis store's tests need.
// A URL already set is used as it is (npm test starts one Redis for every
// step); otherwise a throwaway redis-server is started (installed with apt
// when missing) and stopped after the command. Exits with its status.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { startRedis } from "./redis.mjs";

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error("usage: node scripts/with-redis.mjs <command> [args…]");
  process.exit(2);
}
let redis;
if (!process.env.SSEKIT_REDIS_URL) {
  try {
    redis = await startRedis();
  } catch (error) {
    // The Redis tests then skip, or fail under CI, where it must start.
    console.error(`with-redis: no Redis: ${error.message}`);
  }
}
const child = spawn(command, args, {
  stdio: "inherit",
  env: redis ? { ...process.env, SSEKIT_REDIS_URL: redis.url } : process.env,
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => child.kill(signal));
}
const [status, signal] = await once(child, "exit");
await redis?.stop();
process.exitCode = status ?? (signal ? 1 : 0);
