// createSSEStream over real sockets on 127.0.0.1: the runtime's own server
// (Deno.serve, Bun.serve) and node:http, with a raw TCP client whose close is
// a real disconnect.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { once } from "node:events";
import { deferred } from "./support/deferred.ts";
import { sleep, until, within } from "./support/time.ts";
import { createSSEStream } from "../mod.ts";
import { RawClient } from "./support/raw_client.ts";
import { serverKinds, withServer } from "./support/server.ts";

/**
 * The whole responses at the start of `raw` (ASCII), each framed by its
 * Content-Length or as chunks: a server may send a short body either way.
 */
function responses(raw: string): { head: string; body: string }[] {
  const found: { head: string; body: string }[] = [];
  let at = 0;
  for (;;) {
    const headEnd = raw.indexOf("\r\n\r\n", at);
    if (headEnd === -1) return found;
    const head = raw.slice(at, headEnd);
    let pos = headEnd + 4;
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    let body = "";
    if (length) {
      body = raw.slice(pos, pos + Number(length[1]));
      if (body.length < Number(length[1])) return found;
      pos += body.length;
    } else {
      for (;;) {
        const sizeEnd = raw.indexOf("\r\n", pos);
        if (sizeEnd === -1) return found;
        const size = parseInt(raw.slice(pos, sizeEnd), 16);
        if (raw.length < sizeEnd + 2 + size + 2) return found;
        body += raw.slice(sizeEnd + 2, sizeEnd + 2 + size);
        pos = sizeEnd + 2 + size + 2;
        if (size === 0) break;
      }
    }
    found.push({ head, body });
    at = pos;
  }
}

for (const kind of serverKinds) {
  describe(`createSSEStream on ${kind}`, () => {
    test("streams the events with the SSE headers, then ends the response", async () => {
      await withServer(kind, (request) =>
        createSSEStream(
          async function* () {
            yield { event: "greeting", id: 1, data: "héllo …" };
            await sleep(10);
            yield { data: { n: 2 } };
          }(),
          { signal: request.signal },
        ), async (url) => {
        const client = new RawClient(url);
        const { status, headers } = await within(
          client.response,
          5_000,
          "headers",
        );
        assert.equal(status, 200);
        assert.equal(
          headers.get("content-type"),
          "text/event-stream; charset=utf-8",
        );
        assert.equal(headers.get("cache-control"), "no-cache, no-transform");
        assert.equal(headers.get("x-accel-buffering"), "no");
        // A body of unknown length goes out chunked, never with a guessed
        // Content-Length or as a read-until-close HTTP/1.0 body.
        assert.equal(headers.get("transfer-encoding"), "chunked");
        await within(client.ended, 5_000, "end of body");
        assert.equal(
          client.body,
          ':\nevent: greeting\nid: 1\ndata: héllo …\n\ndata: {"n":2}\n\n',
        );
        client.close();
      });
    });

    test("a client disconnect runs the producer's finally and aborts its signal", async () => {
      let cleaned!: () => void;
      const finallyRan = new Promise<void>((resolve) => cleaned = resolve);
      let producerSignal: AbortSignal | undefined;
      await withServer(kind, (request) =>
        createSSEStream((signal) => {
          producerSignal = signal;
          return async function* () {
            try {
              for (let i = 0;; i++) {
                yield `e${i}`;
                await sleep(20);
              }
            } finally {
              cleaned();
            }
          }();
        }, { signal: request.signal }), async (url) => {
        const client = new RawClient(url);
        await client.waitFor("data: e2\n\n");
        client.close();
        await within(finallyRan, 2_000, "the producer's finally");
        assert.equal(producerSignal?.aborted, true);
      });
    });

    test("a client disconnect reaches a silent producer through its signal", async () => {
      let aborted!: () => void;
      const producerAborted = new Promise<void>((resolve) => aborted = resolve);
      await withServer(kind, (request) =>
        createSSEStream(async (signal) => {
          signal.addEventListener("abort", () => aborted());
          // Waits for an upstream that never answers, until aborted.
          await new Promise((resolve) =>
            signal.addEventListener("abort", resolve)
          );
          return [];
        }, { signal: request.signal }), async (url) => {
        const client = new RawClient(url);
        await client.waitFor(":\n");
        client.close();
        await within(producerAborted, 2_000, "the producer's abort signal");
      });
    });

    test("a client that stops reading is dropped after stallTimeout and its producer stopped (issue 12.5)", async () => {
      const stopped = deferred();
      await withServer(kind, (request) =>
        createSSEStream(
          async function* () {
            try {
              // Never waits: only backpressure holds it.
              for (;;) yield "x".repeat(1_000);
            } finally {
              stopped.resolve();
            }
          }(),
          { signal: request.signal, stallTimeout: 300 },
        ), async (url) => {
        const { port } = new URL(url);
        const socket = connect(Number(port), "127.0.0.1");
        socket.on("error", () => {});
        socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        await once(socket, "data");
        // Reads nothing more: the kernel's buffers fill, then the stream's.
        socket.pause();
        await within(stopped.promise, 10_000, "the producer's finally");
        // The connection is dropped, not left waiting to be drained.
        // Not once(): it rejects on the reset the client may see.
        const closed = new Promise((resolve) => socket.on("close", resolve));
        socket.resume();
        await within(closed, 10_000, "the connection's end");
      });
    });

    test("pipelined requests each get a whole response: a misframing header is refused (issue 12.6)", async () => {
      await withServer(kind, (request) => {
        const n = new URL(request.url).searchParams.get("n");
        let refused = "none";
        try {
          return createSSEStream([`event ${n}`], {
            headers: { "Content-Length": "5" },
          });
        } catch (error) {
          if (!(error instanceof TypeError)) throw error;
          refused = "content-length";
        }
        return createSSEStream([`event ${n}`], {
          headers: { "X-Refused": refused },
        });
      }, async (url) => {
        const { port } = new URL(url);
        const socket = connect(Number(port), "127.0.0.1");
        socket.on("error", () => {});
        const request = (n: number) =>
          `GET /?n=${n} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
        socket.write(request(1) + request(2));
        let raw = "";
        socket.on("data", (chunk: Uint8Array) => {
          raw += new TextDecoder().decode(chunk);
        });
        const whole = () => responses(raw);
        const both = await until(
          () => Promise.resolve(whole()),
          (parsed) => parsed.length === 2,
          "both responses, whole",
          5_000,
        ).finally(() => socket.destroy());
        assert.deepEqual(both.map((r) => r.body), [
          ":\ndata: event 1\n\n",
          ":\ndata: event 2\n\n",
        ]);
        for (const { head } of both) {
          assert.match(head, /x-refused: content-length/i);
        }
      });
    });

    test("a failing producer ends the response cleanly with an error event", async () => {
      await withServer(kind, () =>
        createSSEStream(
          async function* () {
            yield "first";
            throw new Error("internal detail");
          }(),
          { onError: () => ({ event: "error", data: "try later" }) },
        ), async (url) => {
        const client = new RawClient(url);
        await within(client.ended, 5_000, "end of body");
        assert.equal(
          client.body,
          ":\ndata: first\n\nevent: error\ndata: try later\n\n",
        );
        client.close();
      });
    });
  });
}

test(
  `default options survive 30 s of producer silence on ${
    serverKinds.join(", ")
  }`,
  {
    timeout: 60_000,
  },
  async () => {
    await Promise.all(
      serverKinds.map((kind) =>
        withServer(kind, (request) =>
          createSSEStream(
            async function* () {
              yield "before";
              await sleep(30_500);
              yield "after";
            }(),
            { signal: request.signal },
          ), async (url) => {
          const client = new RawClient(url);
          await within(client.ended, 40_000, `${kind}: end of body`);
          assert.match(
            client.body,
            /^:\ndata: before\n\n(:\n)+data: after\n\n$/,
            kind,
          );
          client.close();
        })
      ),
    );
  },
);
