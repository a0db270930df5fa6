// Hono's streamSSE and Elysia's sse() beside createSSEStream on Bun.serve
// with its defaults, for tests/frameworks.test.ts (`bun
// tests/support/bun_helpers.ts`). Prints its URL, then serves until stdin closes:
//
// - GET /quiet/hono, /quiet/ssekit: an event, 15 s of silence, an event.
// - GET /lines/elysia, /lines/ssekit: one event whose data has two lines.
import { Elysia, sse } from "elysia";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { createSSEStream } from "../../mod.ts";
import { sleep } from "./time.ts";
import { exitWhenStdinCloses } from "./stdin.ts";

declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch: (request: Request) => Response | Promise<Response>;
  }): { url: URL };
};

/**
 * Longer than Bun.serve's default idleTimeout (10 s), which Bun checks on
 * a 4 s tick: it cuts a silent stream after 8 to 12 s.
 */
const QUIET_MS = 15_000;
const LINES = "line one\nline two";

const hono = new Hono()
  .get("/quiet/hono", (c) =>
    streamSSE(c, async (stream) => {
      await stream.writeSSE({ data: "first" });
      await stream.sleep(QUIET_MS);
      await stream.writeSSE({ data: "late" });
    }))
  .get("/quiet/ssekit", (c) =>
    createSSEStream(
      async function* () {
        yield { data: "first" };
        await sleep(QUIET_MS);
        yield { data: "late" };
      }(),
      { signal: c.req.raw.signal },
    ));
const elysia = new Elysia()
  .get("/lines/elysia", function* () {
    yield sse({ data: LINES });
  })
  .get(
    "/lines/ssekit",
    ({ request }) =>
      createSSEStream([{ data: LINES }], { signal: request.signal }),
  );

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: (request) =>
    new URL(request.url).pathname.startsWith("/lines/")
      ? elysia.fetch(request)
      : hono.fetch(request),
});
console.log(server.url.href);

exitWhenStdinCloses();
