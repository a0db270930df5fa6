// ssekit/node over real node:http servers on 127.0.0.1: request and response
// conversion, streaming both ways, backpressure, disconnects, errors and
// shutdown, with raw TCP clients that show exactly what crosses the wire.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createServer } from "node:http";
import { connect, type Socket } from "node:net";
import { createSSEStream, formatEvent } from "../mod.ts";
import {
  type FetchHandler,
  type NodeListenerOptions,
  serve,
  type ServeAddress,
  toNodeListener,
} from "../src/node.ts";
import { RawClient } from "./support/raw_client.ts";
import { runtimeName } from "./support/runtime.ts";
import { deferred } from "./support/deferred.ts";
import { sleep, until, within } from "./support/time.ts";
import { collectGarbage } from "./support/gc.ts";

async function withNodeServer(
  handler: FetchHandler,
  body: (url: string, port: number) => Promise<void>,
  options: NodeListenerOptions = {},
): Promise<void> {
  const server = await serve(handler, {
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    ...options,
  });
  try {
    await body(server.url, server.port);
  } finally {
    // A failed test may leave a stream open that close() would wait for.
    server.server.closeAllConnections();
    await server.close();
  }
}

interface Exchange {
  status: number;
  /** Every header line, repeated names kept apart, names lowercased. */
  fields: [string, string][];
  body: string;
}

function decodeChunked(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0;;) {
    const lineEnd = raw.indexOf("\r\n", at);
    const size = parseInt(raw.subarray(at, lineEnd).toString("latin1"), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/**
 * Sends `head` (and `body`) as it is and reads the response to the end of the
 * connection, so `head` should ask for `Connection: close`.
 */
function exchange(
  port: number,
  head: string,
  body = "",
): Promise<Exchange> {
  return within(
    new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      const received: Buffer[] = [];
      socket.on("data", (data: Buffer) => received.push(data));
      socket.on("error", reject);
      socket.on("end", () => {
        const raw = Buffer.concat(received);
        const end = raw.indexOf("\r\n\r\n");
        const [statusLine, ...lines] = raw.subarray(0, end).toString("latin1")
          .split("\r\n");
        const fields = lines.map((line): [string, string] => {
          const colon = line.indexOf(":");
          return [
            line.slice(0, colon).trim().toLowerCase(),
            line.slice(colon + 1).trim(),
          ];
        });
        const chunked = fields.some(([name, value]) =>
          name === "transfer-encoding" && value === "chunked"
        );
        const rest = raw.subarray(end + 4);
        resolve({
          status: Number(statusLine.split(" ")[1]),
          fields,
          body: (chunked ? decodeChunked(rest) : rest).toString("utf8"),
        });
        socket.destroy();
      });
      socket.write(head.replaceAll("\n", "\r\n") + "\r\n" + body);
    }),
    5_000,
    `the response to ${head.split("\n")[0]}`,
  );
}

function field(response: Exchange, name: string): string[] {
  return response.fields.filter(([n]) => n === name).map(([, value]) => value);
}

describe("toNodeListener", () => {
  test("a client disconnect aborts request.signal and runs the producer's finally within a second", async () => {
    const finallyRan = deferred();
    let requestSignal: AbortSignal | undefined;
    await withNodeServer((request) => {
      requestSignal = request.signal;
      return createSSEStream(
        async function* () {
          try {
            for (let i = 0;; i++) {
              yield `e${i}`;
              await sleep(20);
            }
          } finally {
            finallyRan.resolve();
          }
        }(),
        { signal: request.signal },
      );
    }, async (url) => {
      const client = new RawClient(url);
      await client.waitFor("data: e2\n\n");
      assert.equal(requestSignal?.aborted, false);
      client.close();
      await within(finallyRan.promise, 1_000, "the producer's finally");
      assert.equal(requestSignal?.aborted, true);
      assert.equal((requestSignal?.reason as Error).name, "AbortError");
    });
  });

  test("request.signal aborts when the client leaves, also after a collection took the Request", async () => {
    // A handler that keeps request.signal but not the Request, as one that
    // hands the signal to createSSEStream or fetch does. undici's Request
    // follows the signal it was made with only while it lives.
    let opened = 0;
    let aborted = 0;
    await withNodeServer((request) => {
      opened++;
      const { signal } = request;
      signal.addEventListener("abort", () => aborted++, { once: true });
      return createSSEStream(
        async function* () {
          for (;;) {
            await sleep(1_000);
            yield "tick";
          }
        }(),
        { signal },
      );
    }, async (_url, port) => {
      const sockets = Array.from({ length: 20 }, () => {
        const socket = connect(port, "127.0.0.1");
        socket.on("error", () => {});
        socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        return socket;
      });
      await until(() => Promise.resolve(opened), (n) => n === 20, "opened");
      for (let i = 0; i < 5; i++) {
        collectGarbage();
        await sleep(20);
      }
      for (const socket of sockets) socket.destroy();
      await until(
        () => Promise.resolve(aborted),
        (n) => n === 20,
        "every request.signal aborted",
        5_000,
      );
    });
  });

  test("a disconnect cancels a body that does not watch the signal", async () => {
    const cancelled = deferred();
    await withNodeServer(() =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode("first\n"));
          },
          cancel: () => cancelled.resolve(),
        }),
      ), async (url) => {
      const client = new RawClient(url);
      await client.waitFor("first\n");
      client.close();
      await within(cancelled.promise, 1_000, "the body's cancel");
    });
  });

  test("request.signal does not abort when the response completes", async () => {
    const signals: AbortSignal[] = [];
    await withNodeServer(async (request) => {
      signals.push(request.signal);
      const text = await request.text();
      if (text) return new Response(`got ${text}`);
      return createSSEStream(["one"], { signal: request.signal });
    }, async (url, port) => {
      const posted = await exchange(
        port,
        "POST / HTTP/1.1\nHost: x\nContent-Length: 5\nConnection: close\n",
        "hello",
      );
      assert.equal(posted.body, "got hello");
      const client = new RawClient(url);
      await within(client.ended, 5_000, "end of the event stream");
      client.close();
      await within(client.closed, 5_000, "client close");
      await sleep(100);
      assert.equal(signals.length, 2);
      assert.deepEqual(signals.map((signal) => signal.aborted), [false, false]);
    });
  });

  const EVENT = "x".repeat(64 * 1024);
  const encoder = new TextEncoder();

  // The body kinds the adapter writes in two ways: an adopted
  // createSSEStream body, and any other stream, read through its reader.
  const pausingBodies: Record<
    string,
    (onPull: () => void, onEnd: () => void, signal: AbortSignal) => Response
  > = {
    "a createSSEStream body": (onPull, onEnd, signal) =>
      createSSEStream(
        async function* () {
          try {
            for (;;) {
              onPull();
              yield EVENT;
              // Gives the test's timers a turn even if nothing pushes back.
              await sleep(0);
            }
          } finally {
            onEnd();
          }
        }(),
        { signal },
      ),
    "any other stream body": (onPull, onEnd) =>
      new Response(
        new ReadableStream({
          async pull(controller) {
            onPull();
            controller.enqueue(encoder.encode(`data: ${EVENT}\n\n`));
            await sleep(0);
          },
          cancel: onEnd,
        }),
        { headers: { "content-type": "text/event-stream" } },
      ),
  };
  for (const [kind, body] of Object.entries(pausingBodies)) {
    test(`a client that stops reading stops the producer; reading again resumes it (${kind})`, async () => {
      let pulls = 0;
      const finallyRan = deferred();
      await withNodeServer(
        (request) =>
          body(() => pulls++, () => finallyRan.resolve(), request.signal),
        async (_url, port) => {
          const socket: Socket = connect(port, "127.0.0.1");
          socket.on("error", () => {});
          let received = 0;
          socket.on("data", (data: Buffer) => received += data.length);
          socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
          socket.pause();
          // Once the socket buffers are full, the count must hold still.
          let last = -1;
          let stableSince = Date.now();
          const deadline = Date.now() + 15_000;
          while (Date.now() - stableSince < 500) {
            // Bounded by the socket buffers (a few MB of 64 KiB events), not by
            // how long the test waits.
            assert.ok(pulls < 1_000, `${pulls} events produced while paused`);
            assert.ok(Date.now() < deadline, `pulls kept growing: ${pulls}`);
            if (pulls !== last) {
              last = pulls;
              stableSince = Date.now();
            }
            await sleep(50);
          }
          const stalled = pulls;
          await sleep(300);
          assert.equal(pulls, stalled, "the producer ran on while paused");
          socket.resume();
          const more = Date.now() + 5_000;
          while (pulls < stalled + 50) {
            assert.ok(
              Date.now() < more,
              `no progress after resuming: ${pulls}`,
            );
            await sleep(20);
          }
          assert.ok(received > 0);
          socket.destroy();
          await within(finallyRan.promise, 1_000, "the producer's finally");
        },
      );
    });
  }

  test("streams a request body as it arrives", async () => {
    await withNodeServer((request) => {
      const chunks = request.body!.pipeThrough(new TextDecoderStream());
      return createSSEStream(chunks, { signal: request.signal });
    }, async (_url, port) => {
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => {});
      let text = "";
      socket.setEncoding("utf8");
      socket.on("data", (data: string) => text += data);
      const waitFor = async (wanted: string) => {
        const deadline = Date.now() + 5_000;
        while (!text.includes(wanted)) {
          assert.ok(Date.now() < deadline, `no ${JSON.stringify(wanted)}`);
          await sleep(10);
        }
      };
      socket.write(
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
      );
      socket.write("3\r\none\r\n");
      // The handler echoes the first piece before the second is even sent.
      await waitFor("data: one\n\n");
      socket.write("3\r\ntwo\r\n");
      await waitFor("data: two\n\n");
      socket.write("0\r\n\r\n");
      await waitFor("\r\n0\r\n\r\n");
      socket.destroy();
    });
  });

  test("a request body of many pieces arrives whole", async () => {
    await withNodeServer(async (request) => {
      const bytes = new Uint8Array(await request.arrayBuffer());
      return new Response(`${request.method} ${bytes.length} ${bytes[0]}`);
    }, async (_url, port) => {
      const size = 1024 * 1024;
      const response = await exchange(
        port,
        `PUT / HTTP/1.1\nHost: x\nContent-Length: ${size}\nConnection: close\n`,
        "7".repeat(size),
      );
      assert.equal(response.body, `PUT ${size} 55`);
    });
  });

  test("an unread request body is discarded, so the connection serves the next request", async () => {
    let bodyError: unknown;
    await withNodeServer((request) => {
      if (request.method === "GET") return new Response("second");
      // Neither read nor cancelled: the response is over first.
      const reader = request.body!.getReader();
      setTimeout(() => reader.read().catch((error) => bodyError = error), 100);
      return new Response("first");
    }, async (_url, port) => {
      const size = 4 * 1024 * 1024;
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => {});
      let text = "";
      socket.setEncoding("latin1");
      socket.on("data", (data: string) => text += data);
      const ended = new Promise((resolve) => socket.on("end", resolve));
      socket.write(
        `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`,
      );
      socket.write("z".repeat(size));
      socket.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      await within(ended, 5_000, "the end of the connection");
      socket.destroy();
      assert.match(text, /^HTTP\/1\.1 200 [^]*\r\nfirst\r\n0\r\n\r\n/);
      const served = /HTTP\/1\.1 200 [^]*\r\nsecond\r\n0\r\n\r\n$/.test(text);
      // Deno's node:http closes a connection whose request body was left
      // unread instead, which frees the client as well.
      assert.ok(served || runtimeName === "deno", text);
      await sleep(150);
      assert.equal((bodyError as Error | undefined)?.name, "AbortError");
    });
  });

  test("keeps repeated request headers and every Set-Cookie; drops framing headers", async () => {
    await withNodeServer(
      (request) =>
        new Response(request.headers.get("x-multi"), {
          headers: [
            ["Set-Cookie", "a=1; Path=/"],
            ["Set-Cookie", "b=2"],
            ["X-Multi", "one"],
            ["X-Multi", "two"],
            // Framing that Node owns, as some frameworks set it.
            ["Connection", "keep-alive"],
            ["Keep-Alive", "timeout=99"],
            ["Transfer-Encoding", "chunked"],
          ],
        }),
      async (_url, port) => {
        const response = await exchange(
          port,
          "GET / HTTP/1.1\nHost: x\nX-Multi: a\nX-Multi: b\nConnection: close\n",
        );
        assert.equal(response.status, 200);
        assert.equal(response.body, "a, b");
        assert.deepEqual(field(response, "set-cookie"), ["a=1; Path=/", "b=2"]);
        assert.deepEqual(field(response, "x-multi"), ["one, two"]);
        assert.deepEqual(field(response, "transfer-encoding"), ["chunked"]);
        assert.deepEqual(field(response, "keep-alive"), []);
        assert.deepEqual(field(response, "connection"), ["close"]);
      },
    );
  });

  test("passes status text; answers HEAD and 204 without a body", async () => {
    let started = 0;
    await withNodeServer((request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/teapot") {
        return new Response("short", { status: 418, statusText: "Short" });
      }
      if (pathname === "/none") return new Response(null, { status: 204 });
      return createSSEStream(() => {
        started++;
        return ["never"];
      }, { signal: request.signal });
    }, async (_url, port) => {
      const teapot = await exchange(
        port,
        "GET /teapot HTTP/1.1\nHost: x\nConnection: close\n",
      );
      assert.equal(teapot.status, 418);
      assert.equal(teapot.body, "short");
      const head = await exchange(
        port,
        "HEAD /events HTTP/1.1\nHost: x\nConnection: close\n",
      );
      assert.equal(head.status, 200);
      assert.deepEqual(field(head, "content-type"), [
        "text/event-stream; charset=utf-8",
      ]);
      assert.equal(head.body, "");
      const none = await exchange(
        port,
        "GET /none HTTP/1.1\nHost: x\nConnection: close\n",
      );
      assert.equal(none.status, 204);
      assert.equal(none.body, "");
      await sleep(50);
      assert.equal(started, 0, "a HEAD response's body was produced");
    });
  });

  test("a createSSEStream body re-wrapped, or partly read, by the handler is served whole", async () => {
    const events = ["one", "two", "three"].map((data) => ({ data }));
    const expected = events.map((event) => formatEvent(event)).join("");
    const finallyRan = { rewrapped: false, partlyRead: false };
    // README: a re-wrapped body is written directly, with no reader.
    let readers = 0;
    function source(which: keyof typeof finallyRan) {
      return async function* () {
        try {
          yield* events;
        } finally {
          finallyRan[which] = true;
        }
      }();
    }
    await withNodeServer(async (request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/rewrapped") {
        // What middleware does to add a header (Hono's, among others).
        const inner = createSSEStream(source("rewrapped"));
        const headers = new Headers(inner.headers);
        headers.set("x-wrapped", "yes");
        const body = inner.body!;
        const getReader = body.getReader;
        body.getReader = function (this: typeof body, ...args: []) {
          readers++;
          return getReader.apply(this, args);
        } as typeof getReader;
        return new Response(body, { status: 201, headers });
      }
      const inner = createSSEStream(source("partlyRead"), { retry: 1500 });
      const reader = inner.body!.getReader();
      const first = await reader.read();
      reader.releaseLock();
      assert.equal(new TextDecoder().decode(first.value), "retry: 1500\n");
      return inner;
    }, async (_url, port) => {
      const rewrapped = await exchange(
        port,
        "GET /rewrapped HTTP/1.1\nHost: x\nConnection: close\n",
      );
      assert.equal(rewrapped.status, 201);
      assert.deepEqual(field(rewrapped, "x-wrapped"), ["yes"]);
      assert.equal(rewrapped.body, ":\n" + expected);
      assert.equal(readers, 0, "the re-wrapped body was read with a reader");
      const partlyRead = await exchange(
        port,
        "GET /partly-read HTTP/1.1\nHost: x\nConnection: close\n",
      );
      assert.equal(partlyRead.status, 200);
      assert.equal(partlyRead.body, expected);
      assert.deepEqual(finallyRan, { rewrapped: true, partlyRead: true });
    });
  });

  test("builds the URL from Host, absolute-form or the local address", async () => {
    let calls = 0;
    await withNodeServer((request) => {
      calls++;
      return new Response(`${request.method} ${request.url}`);
    }, async (_url, port) => {
      const get = (head: string) =>
        exchange(port, head + "\nConnection: close\n");
      assert.equal(
        (await get("GET /a/b?c=d HTTP/1.1\nHost: example.test:8080")).body,
        "GET http://example.test:8080/a/b?c=d",
      );
      assert.equal(
        (await get("GET http://proxied.test/x?y=1 HTTP/1.1\nHost: other.test"))
          .body,
        "GET http://proxied.test/x?y=1",
      );
      assert.equal(
        (await get("GET //double HTTP/1.1\nHost: example.test")).body,
        "GET http://example.test//double",
      );
      assert.equal(
        (await get("OPTIONS /o HTTP/1.0")).body,
        `OPTIONS http://127.0.0.1:${port}/o`,
      );
      assert.equal(calls, 4);
      const bad = await get("GET /p HTTP/1.1\nHost: evil.test/x?");
      assert.equal(bad.status, 400);
      assert.equal(calls, 4, "the handler saw a request with a bad Host");
    });
  });

  test("a failing handler gets a 500, is reported, and the server keeps serving", async () => {
    const reported: unknown[] = [];
    await withNodeServer((request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/throw") throw new Error("thrown");
      if (pathname === "/reject") return Promise.reject(new Error("rejected"));
      if (pathname === "/nothing") return undefined as unknown as Response;
      return new Response("fine");
    }, async (_url, port) => {
      for (const path of ["/throw", "/reject", "/nothing"]) {
        const response = await exchange(
          port,
          `GET ${path} HTTP/1.1\nHost: x\nConnection: close\n`,
        );
        assert.equal(response.status, 500, path);
        assert.equal(response.body, "Internal Server Error");
      }
      assert.deepEqual(
        reported.map((error) => (error as Error).message),
        [
          "thrown",
          "rejected",
          "Invalid handler result: expected a Response, got undefined",
        ],
      );
      assert.ok(reported[2] instanceof TypeError);
      const fine = await exchange(
        port,
        "GET / HTTP/1.1\nHost: x\nConnection: close\n",
      );
      assert.equal(fine.status, 200);
      assert.equal(fine.body, "fine");
    }, { onError: (error) => reported.push(error) });
  });

  test("a body that errors mid-way closes the connection without ending the response", async () => {
    const reported: unknown[] = [];
    const failure = new Error("the upstream broke");
    await withNodeServer(() => {
      let sent = false;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (sent) {
              await sleep(20);
              return controller.error(failure);
            }
            sent = true;
            controller.enqueue(new TextEncoder().encode("partial"));
          },
        }),
      );
    }, async (url) => {
      const client = new RawClient(url);
      await client.waitFor("partial");
      let ended = false;
      client.ended.then(() => ended = true);
      await within(client.closed, 5_000, "the connection closing");
      await sleep(20);
      assert.equal(ended, false, "the client saw a complete response");
      assert.deepEqual(reported, [failure]);
    }, { onError: (error) => reported.push(error) });
  });

  test("works as the listener of a plain node:http server, after middleware that set headers", async () => {
    const reported: unknown[] = [];
    const listener = toNodeListener((request) => {
      const { pathname } = new URL(request.url);
      const response = createSSEStream([{ data: pathname }], {
        headers: { "x-both": "handler", "x-handler": "yes" },
      });
      // A body that cannot be read: the head fails before it is sent.
      if (pathname === "/locked") response.body!.getReader();
      return response;
    }, { onError: (error) => reported.push(error) });
    const server = createServer((req, res) => {
      // What CORS or session middleware does before the route runs.
      res.setHeader("access-control-allow-origin", "*");
      res.setHeader("x-both", "middleware");
      listener(req, res);
    });
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", resolve)
    );
    try {
      const { port } = server.address() as { port: number };
      const response = await exchange(
        port,
        "GET /plain HTTP/1.1\nHost: x\nConnection: close\n",
      );
      assert.equal(response.body, ":\ndata: /plain\n\n");
      assert.deepEqual(field(response, "access-control-allow-origin"), ["*"]);
      assert.deepEqual(field(response, "x-both"), ["handler"]);
      assert.deepEqual(field(response, "content-type"), [
        "text/event-stream; charset=utf-8",
      ]);
      // The 500 drops what the handler's response set, not what middleware
      // set: a browser must still be allowed to read it.
      const failed = await exchange(
        port,
        "GET /locked HTTP/1.1\nHost: x\nConnection: close\n",
      );
      assert.equal(failed.status, 500);
      assert.equal(failed.body, "Internal Server Error");
      assert.deepEqual(field(failed, "access-control-allow-origin"), ["*"]);
      assert.deepEqual(field(failed, "x-handler"), []);
      assert.deepEqual(field(failed, "content-type"), [
        "text/plain; charset=utf-8",
      ]);
      assert.equal(reported.length, 1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("rejects a handler that is not a function", () => {
    assert.throws(
      () => toNodeListener("nope" as unknown as FetchHandler),
      TypeError,
    );
  });
});

describe("serve", () => {
  test("listens, then closes on signal: streams end, the connection closes, the port is freed", async () => {
    const stop = new AbortController();
    let listened: ServeAddress | undefined;
    const finallyRan = deferred();
    const server = await serve((request) =>
      createSSEStream(
        async function* () {
          try {
            for (let i = 0;; i++) {
              yield `tick ${i}`;
              await sleep(20);
            }
          } finally {
            finallyRan.resolve();
          }
        }(),
        { signal: request.signal },
      ), {
      hostname: "127.0.0.1",
      port: 0,
      signal: stop.signal,
      onListen: (address) => listened = address,
    });
    assert.deepEqual(listened, {
      hostname: "127.0.0.1",
      port: server.port,
      url: `http://127.0.0.1:${server.port}/`,
    });
    assert.equal(server.url, listened?.url);
    const client = new RawClient(server.url);
    await client.waitFor("data: tick 2\n\n");
    stop.abort();
    // The stream ends cleanly (a client reconnects), then the server is done.
    await within(client.ended, 2_000, "end of the event stream");
    await within(finallyRan.promise, 2_000, "the producer's finally");
    await within(client.closed, 2_000, "the connection closing");
    await within(server.finished, 2_000, "finished");
    await server.close();
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(server.port, "127.0.0.1");
      socket.on("connect", () => {
        socket.destroy();
        resolve("connected");
      });
      socket.on(
        "error",
        (error: Error & { code?: string }) =>
          resolve(error.code ?? error.message),
      );
    });
    assert.equal(refused, "ECONNREFUSED");
  });

  test("close() lets an idle keep-alive connection go at once", async () => {
    const server = await serve(() => new Response("ok"), {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
    });
    const socket = connect(server.port, "127.0.0.1");
    socket.on("error", () => {});
    const closed = new Promise((resolve) => socket.on("close", resolve));
    const answered = new Promise((resolve) => socket.once("data", resolve));
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await within(answered, 5_000, "the response");
    await within(server.close(), 2_000, "close()");
    await within(closed, 2_000, "the idle connection closing");
  });

  test("rejects a bad port and a port in use", async () => {
    await assert.rejects(
      serve(() => new Response(), { port: 70_000, onListen() {} }),
      RangeError,
    );
    const first = await serve(() => new Response(), {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
    });
    try {
      await assert.rejects(
        serve(() => new Response(), {
          hostname: "127.0.0.1",
          port: first.port,
          onListen() {},
        }),
        (error: Error & { code?: string }) => error.code === "EADDRINUSE",
      );
    } finally {
      await first.close();
    }
  });
});
