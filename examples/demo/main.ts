// Starts the demo server on the runtime running this file: Deno.serve,
// Bun.serve, or node:http through ssekit/node. scripts/demo.mjs bundles
// ssekit for the browser and runs this; `npm run demo` does both.
//
//   SSEKIT_DEMO_CLIENT=<bundle.js> <runtime> examples/demo/main.ts [--port=8000] [--hostname=127.0.0.1] [--redis=redis://…]
//
// With --redis, the hub keeps its topics in Redis: replies and the feed
// survive this server's restart, and several servers can share them.
import { readFile } from "node:fs/promises";
import process from "node:process";
import { serve as serveNode } from "../../src/node.ts";
import { createDemoApp } from "./app.ts";

type Handler = (request: Request) => Promise<Response>;
interface Runtime {
  Deno?: {
    serve(
      options: { hostname: string; port: number; onListen(): void },
      handler: Handler,
    ): { addr: { port: number }; shutdown(): Promise<void> };
  };
  Bun?: {
    serve(options: { hostname: string; port: number; fetch: Handler }): {
      port: number;
      stop(closeActiveConnections: boolean): Promise<void>;
    };
  };
}

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(
    prefix.length,
  ) ?? fallback;
}

// Resolves to the port listened on (useful with --port=0) and a stop function.
async function listen(
  handler: Handler,
  hostname: string,
  port: number,
): Promise<{ port: number; runtime: string; stop(): Promise<void> }> {
  const { Deno, Bun } = globalThis as Runtime;
  if (Deno) {
    const server = Deno.serve({ hostname, port, onListen() {} }, handler);
    return {
      port: server.addr.port,
      runtime: "deno",
      stop: () => server.shutdown(),
    };
  }
  if (Bun) {
    // Bun's default idleTimeout (10 s) needs no change: createSSEStream's
    // keep-alive comments (every 5 s) keep quiet streams from looking idle.
    const server = Bun.serve({ hostname, port, fetch: handler });
    return { port: server.port, runtime: "bun", stop: () => server.stop(true) };
  }
  const server = await serveNode(handler, { hostname, port, onListen() {} });
  return {
    port: Number(new URL(server.url).port),
    runtime: `node ${process.versions.node}`,
    stop: () => {
      server.server.closeAllConnections();
      return server.close();
    },
  };
}

const bundle = process.env.SSEKIT_DEMO_CLIENT;
if (!bundle) {
  console.error(
    "SSEKIT_DEMO_CLIENT is not set: start the demo with `npm run demo`",
  );
  process.exit(2);
}
const hostname = option("hostname", "127.0.0.1");
// Where this server answers on this machine, whatever address it listens on.
const host = hostname === "0.0.0.0"
  ? "127.0.0.1"
  : hostname === "::"
  ? "[::1]"
  : hostname.includes(":")
  ? `[${hostname}]`
  : hostname;
let port = 0;
const redis = option("redis", "");
const app = createDemoApp({
  clientScript: await readFile(bundle, "utf8"),
  origin: () => `http://${host}:${port}`,
  // Imported only when asked for: ioredis is an optional dependency.
  store: redis
    ? (await import("../../src/redis.ts")).redisStore({
      redis,
      prefix: option("redis-prefix", "ssekit-demo:"),
    })
    : undefined,
});
const server = await listen(
  app.fetch,
  hostname,
  Number(option("port", "8000")),
);
port = server.port;
console.log(`ssekit demo (${server.runtime}) on http://${host}:${port}/`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await app.close();
  await server.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
// scripts/demo.mjs holds our stdin open and says so: its end means the
// launcher is gone. Run any other way, stdin may be at its end already
// (nohup, </dev/null), which must not stop the server.
if (process.env.SSEKIT_DEMO_STOP_ON_STDIN_END) {
  process.stdin.on("end", stop);
  process.stdin.resume();
}
