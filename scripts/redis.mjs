// A throwaway Redis for the tests: installs redis-server with apt when it is
// missing, runs it on 127.0.0.1 on a free (or given) port, without
// persistence, in a temporary directory, and stops it.
//
// As a module: `const redis = await startRedis(); ... await redis.stop()`.
// As a command (`node scripts/redis.mjs [port]`), used by tests that must
// stop and restart a Redis: prints the URL, then runs until stdin closes
// or it is signalled.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDebianPackage, freePort, probe } from "./services.mjs";

const HOST = "127.0.0.1";

function answersPing(port) {
  return probe(HOST, port, "PING\r\n", (reply) => reply.startsWith("+PONG"));
}

/**
 * Starts redis-server; resolves to `{ url, port, stop }` once it answers
 * PING. `stop()` ends it and removes its directory.
 */
export async function startRedis({ port } = {}) {
  ensureDebianPackage("redis-server", "redis-server");
  port ??= await freePort(HOST);
  const dir = mkdtempSync(join(tmpdir(), "ssekit-redis-"));
  const child = spawn("redis-server", [
    "--bind",
    HOST,
    "--port",
    String(port),
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--loglevel",
    "warning",
  ], { stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await answersPing(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start on ${HOST}:${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `redis://${HOST}:${port}`, port, stop };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = process.argv[2] ? Number(process.argv[2]) : undefined;
  const redis = await startRedis({ port });
  let stopping;
  const shutdown = () => {
    stopping ??= redis.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  process.stdin.on("end", shutdown);
  process.stdin.on("close", shutdown);
  process.stdin.resume();
  console.log(redis.url);
}
