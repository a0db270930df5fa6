// A Hono app on @hono/node-server over cleartext HTTP/2 (h2c, as behind a
// load balancer that speaks HTTP/2 to its backends), for
// tests/frameworks.test.ts: GET /hono streams with Hono's streamSSE, GET
// /ssekit with createSSEStream. Prints its URL, then serves until stdin
// closes. A process of its own: on Node and Deno, streamSSE's
// Transfer-Encoding header makes @hono/node-server throw where nothing
// catches it.
import { createServer, type Http2Server } from "node:http2";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { createSSEStream } from "../../mod.ts";
import { exitWhenStdinCloses } from "./stdin.ts";

const app = new Hono()
  .get("/hono", (c) =>
    streamSSE(c, async (stream) => {
      await stream.writeSSE({ data: "hi" });
    }))
  .get(
    "/ssekit",
    (c) => createSSEStream([{ data: "hi" }], { signal: c.req.raw.signal }),
  );
const server = serve({
  fetch: app.fetch,
  port: 0,
  hostname: "127.0.0.1",
  createServer,
}) as Http2Server;
server.once("listening", () => {
  const { port } = server.address() as { port: number };
  console.log(`http://127.0.0.1:${port}/`);
});
exitWhenStdinCloses();
