// connectSSE against real servers on 127.0.0.1, following the EventSource
// processing model of WHATWG HTML §9.2.2–9.2.4 (establishing, announcing,
// reestablishing and failing the connection).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { sleep, until, within } from "./_util.ts";
import {
  connectSSE,
  type ConnectSSEInit,
  getLastEventId,
  type SSEConnection,
  type SSEMessage,
  SSEResponseError,
} from "../mod.ts";
import { serve, serverKinds, withServer } from "./_server.ts";

const SSE = { "Content-Type": "text/event-stream" };
const fast = { reconnect: { delay: 10, backoff: 0 } };

async function take(
  stream: AsyncIterator<SSEMessage>,
  count: number,
): Promise<SSEMessage[]> {
  const messages: SSEMessage[] = [];
  while (messages.length < count) {
    const { done, value } = await stream.next();
    if (done) break;
    messages.push(value);
  }
  return messages;
}

/**
 * Runs `body` on `stream` and closes it however `body` ends, so a failing
 * test leaves no reconnection loop behind.
 */
async function closing(
  stream: SSEConnection,
  body: (stream: SSEConnection) => Promise<void>,
): Promise<void> {
  try {
    await body(stream);
  } finally {
    stream.close();
  }
}

for (const kind of serverKinds) {
  describe(`connectSSE against ${kind}`, () => {
    for (const id of ["42", "café", "… 🎉"]) {
      test(`reconnects with Last-Event-ID as UTF-8 for ${JSON.stringify(id)}`, async () => {
        const seen: (string | null)[] = [];
        await withServer(kind, (request) => {
          seen.push(
            request.headers.has("last-event-id")
              ? getLastEventId(request)
              : null,
          );
          const text = seen.length === 1
            ? `id: ${id}\ndata: first\n\n`
            : `data: resumed after ${getLastEventId(request)}\n\n`;
          return new Response(text, { headers: SSE });
        }, async (url) => {
          const stream = connectSSE(url, fast);
          const messages = await take(stream, 2);
          stream.close();
          assert.deepEqual(messages.map((m) => [m.data, m.lastEventId]), [
            ["first", id],
            [`resumed after ${id}`, id],
          ]);
          assert.deepEqual(seen.slice(0, 2), [null, id]);
          assert.equal(stream.lastEventId, id);
        });
      });
    }

    test("an initial lastEventId is sent on the first connection", async () => {
      let sent = "";
      await withServer(kind, (request) => {
        sent = getLastEventId(request);
        return new Response("data: x\n\n", { headers: SSE });
      }, async (url) => {
        const stream = connectSSE(url, { ...fast, lastEventId: "ü-7" });
        const [message] = await take(stream, 1);
        stream.close();
        assert.equal(sent, "ü-7");
        assert.equal(message.lastEventId, "ü-7");
      });
    });

    test("an id-only block moves lastEventId for the next connection (§9.2.6: set at dispatch)", async () => {
      const seen: string[] = [];
      await withServer(kind, (request) => {
        seen.push(getLastEventId(request));
        const text = seen.length === 1 ? "data: a\n\nid: 9\n\n" : "data: b\n\n";
        return new Response(text, { headers: SSE });
      }, async (url) => {
        const stream = connectSSE(url, fast);
        const messages = await take(stream, 2);
        stream.close();
        assert.deepEqual(messages.map((m) => m.data), ["a", "b"]);
        assert.deepEqual(seen.slice(0, 2), ["", "9"]);
      });
    });

    test("the server's retry sets the reconnection time", async () => {
      const times: number[] = [];
      await withServer(kind, () => {
        times.push(Date.now());
        return new Response("retry: 400\ndata: x\n\n", { headers: SSE });
      }, async (url) => {
        const stream = connectSSE(url, {
          reconnect: { delay: 10, backoff: 0 },
        });
        await take(stream, 2);
        stream.close();
        assert.ok(
          times[1] - times[0] >= 390,
          `reconnected after ${times[1] - times[0]} ms`,
        );
      });
    });

    test("204 ends iteration cleanly with no further request", async () => {
      let requests = 0;
      await withServer(kind, () => {
        requests++;
        return new Response(null, { status: 204 });
      }, async (url) => {
        const stream = connectSSE(url, fast);
        assert.deepEqual(await take(stream, 1), []);
        assert.equal(stream.readyState, 2);
        await sleep(100);
        assert.equal(requests, 1);
      });
    });

    for (
      const [name, status, type] of [
        ["404", 404, "text/plain"],
        ["500", 500, "text/plain"],
        ["a wrong content type", 200, "application/json"],
      ] as const
    ) {
      test(`${name} fails for good with an SSEResponseError and no further request`, async () => {
        let requests = 0;
        await withServer(kind, () => {
          requests++;
          return new Response("x".repeat(5000), {
            status,
            headers: { "Content-Type": type },
          });
        }, async (url) => {
          const stream = connectSSE(url, fast);
          await assert.rejects(stream.next(), (error: unknown) => {
            assert.ok(error instanceof SSEResponseError);
            assert.equal(error.status, status);
            assert.equal(error.headers.get("content-type"), type);
            assert.equal(error.body, "x".repeat(2048));
            return true;
          });
          assert.equal(stream.readyState, 2);
          assert.deepEqual(await stream.next(), {
            done: true,
            value: undefined,
          });
          await sleep(100);
          assert.equal(requests, 1);
        });
      });
    }

    test("the Content-Type check ignores case and parameters", async () => {
      await withServer(kind, () =>
        new Response("data: ok\n\n", {
          headers: { "Content-Type": "Text/Event-Stream ; charset=UTF-8" },
        }), async (url) => {
        const stream = connectSSE(url, fast);
        const [message] = await take(stream, 1);
        stream.close();
        assert.equal(message.data, "ok");
      });
    });

    for (const status of [301, 302, 307]) {
      test(`follows a ${status} redirect, and reconnects to the original URL`, async () => {
        const paths: string[] = [];
        await withServer(kind, (request) => {
          const { pathname } = new URL(request.url);
          paths.push(pathname);
          if (pathname === "/start") {
            return new Response(null, {
              status,
              headers: { Location: "/events" },
            });
          }
          return new Response(`data: ${paths.length}\n\n`, { headers: SSE });
        }, async (url) => {
          const stream = connectSSE(new URL("/start", url), fast);
          const messages = await take(stream, 2);
          stream.close();
          assert.deepEqual(messages.map((m) => m.data), ["2", "4"]);
          assert.deepEqual(paths.slice(0, 4), [
            "/start",
            "/events",
            "/start",
            "/events",
          ]);
        });
      });
    }

    test("POST body and a header function are replayed on every connection", async () => {
      const seen: [string, string, string | null][] = [];
      await withServer(kind, async (request) => {
        seen.push([
          request.method,
          await request.text(),
          request.headers.get("authorization"),
        ]);
        return new Response(`data: ${seen.length}\n\n`, { headers: SSE });
      }, async (url) => {
        let token = 0;
        const stream = connectSSE(url, {
          ...fast,
          method: "POST",
          body: JSON.stringify({ prompt: "hi" }),
          // Async, as a token refresh would be.
          headers: () =>
            Promise.resolve({ Authorization: `Bearer ${++token}` }),
        });
        await take(stream, 2);
        stream.close();
        assert.deepEqual(seen.slice(0, 2), [
          ["POST", '{"prompt":"hi"}', "Bearer 1"],
          ["POST", '{"prompt":"hi"}', "Bearer 2"],
        ]);
      });
    });

    test("a function body is called for every connection", async () => {
      const bodies: string[] = [];
      await withServer(kind, async (request) => {
        bodies.push(await request.text());
        return new Response("data: x\n\n", { headers: SSE });
      }, async (url) => {
        let n = 0;
        const stream = connectSSE(url, {
          ...fast,
          method: "POST",
          body: () => new URLSearchParams({ n: String(++n) }),
        });
        await take(stream, 2);
        stream.close();
        assert.deepEqual(bodies.slice(0, 2), ["n=1", "n=2"]);
      });
    });

    test("close() ends a pending next() at once and aborts the request", async () => {
      let serverSignal: AbortSignal | undefined;
      await withServer(kind, (request) => {
        serverSignal = request.signal;
        return new Response(
          new ReadableStream({
            start: (c) => c.enqueue(new TextEncoder().encode(":\n")),
          }),
          { headers: SSE },
        );
      }, async (url) => {
        const stream = connectSSE(url, fast);
        const pending = stream.next();
        while (stream.readyState !== 1) await sleep(5);
        stream.close();
        assert.deepEqual(await pending, { done: true, value: undefined });
        for (let i = 0; i < 100 && !serverSignal?.aborted; i++) await sleep(10);
        assert.equal(
          serverSignal?.aborted,
          true,
          "the server saw the client leave",
        );
      });
    });

    test("an aborted signal during the reconnection wait stops everything", async () => {
      let requests = 0;
      await withServer(kind, () => {
        requests++;
        return new Response("data: x\n\n", { headers: SSE });
      }, async (url) => {
        const aborter = new AbortController();
        const stream = connectSSE(url, {
          signal: aborter.signal,
          reconnect: { delay: 200, backoff: 0 },
        });
        await take(stream, 1);
        const pending = stream.next();
        await sleep(50);
        aborter.abort();
        assert.deepEqual(await pending, { done: true, value: undefined });
        await sleep(250);
        assert.equal(requests, 1);
      });
    });

    test("retryStatus opts into retrying 503 with Retry-After", async () => {
      let requests = 0;
      await withServer(
        kind,
        () =>
          ++requests === 1
            ? new Response("busy", {
              status: 503,
              headers: { "Retry-After": "0" },
            })
            : new Response("data: ok\n\n", { headers: SSE }),
        async (url) => {
          const stream = connectSSE(url, {
            reconnect: { delay: 10, backoff: 0, retryStatus: true },
          });
          const [message] = await take(stream, 1);
          stream.close();
          assert.equal(message.data, "ok");
          assert.equal(requests, 2);
        },
      );
    });

    test("idleTimeout reconnects a connection that went silent", async () => {
      let requests = 0;
      await withServer(kind, () => {
        requests++;
        return new Response(
          new ReadableStream({
            start: (c) =>
              c.enqueue(new TextEncoder().encode(`data: ${requests}\n\n`)),
          }),
          { headers: SSE },
        );
      }, async (url) => {
        const stream = connectSSE(url, { ...fast, idleTimeout: 150 });
        const messages = await take(stream, 2);
        stream.close();
        assert.deepEqual(messages.map((m) => m.data), ["1", "2"]);
      });
    });

    test("onOpen sees the response before its messages", async () => {
      await withServer(
        kind,
        () =>
          new Response("data: x\n\n", {
            headers: { ...SSE, "X-Session": "s1" },
          }),
        async (url) => {
          const opened: string[] = [];
          const stream = connectSSE(url, {
            ...fast,
            onOpen: (response) =>
              void opened.push(response.headers.get("x-session")!),
          });
          await take(stream, 1);
          stream.close();
          assert.deepEqual(opened, ["s1"]);
        },
      );
    });
  });
}

describe("connectSSE without a server", () => {
  test("gives up after maxAttempts failed attempts with the last network error", async () => {
    const server = await serve(() => new Response());
    const url = server.url;
    await server.close();
    const stream = connectSSE(url, {
      reconnect: { delay: 1, backoff: 0, maxAttempts: 3 },
    });
    await assert.rejects(stream.next(), TypeError);
    assert.equal(stream.readyState, 2);
  });

  test("reconnect: false makes the end of the body the end of iteration", async () => {
    let calls = 0;
    const stream = connectSSE("http://127.0.0.1:1/", {
      reconnect: false,
      fetch: () => {
        calls++;
        return Promise.resolve(
          new Response("data: only\n\n", { headers: SSE }),
        );
      },
    });
    assert.deepEqual((await take(stream, 5)).map((m) => m.data), ["only"]);
    assert.equal(calls, 1);
  });

  test("rejects a ReadableStream body, which cannot be replayed", () => {
    assert.throws(
      () =>
        connectSSE("http://127.0.0.1:1/", {
          method: "POST",
          body: new ReadableStream() as never,
        }),
      /cannot be re-sent/,
    );
  });

  test("rejects out-of-range options", () => {
    assert.throws(
      () => connectSSE("http://x/", { idleTimeout: 0 }),
      RangeError,
    );
    assert.throws(
      () => connectSSE("http://x/", { reconnect: { delay: -1 } }),
      RangeError,
    );
    assert.throws(
      () => connectSSE("http://x/", { reconnect: { maxAttempts: 0 } }),
      RangeError,
    );
  });

  test("the request asks for text/event-stream and is never cached", async () => {
    let seen: Request | undefined;
    const stream = connectSSE("http://127.0.0.1:1/", {
      fetch: (request) => {
        seen = request;
        return Promise.resolve(new Response(null, { status: 204 }));
      },
    });
    await take(stream, 1);
    assert.equal(seen?.headers.get("accept"), "text/event-stream");
    assert.equal(seen?.cache, "no-store");
    assert.equal(seen?.headers.has("last-event-id"), false);
  });
});

describe("connectSSE: failures surface instead of looping", () => {
  test("an invalid URL throws at once", () => {
    // Absolute, as "not a url" is a valid URL relative to a page, and
    // bracketed, as Chromium percent-encodes a space in a host name.
    assert.throws(() => connectSSE("http://[not a url]/"), TypeError);
  });

  test("a throwing headers function fails for good, with no request", async () => {
    let calls = 0;
    const stream = connectSSE("http://127.0.0.1:1/", {
      headers: () => {
        throw new Error("token store down");
      },
      fetch: () => {
        calls++;
        return Promise.resolve(new Response(null, { status: 204 }));
      },
    });
    await assert.rejects(stream.next(), /token store down/);
    assert.equal(calls, 0);
    assert.equal(stream.readyState, 2);
  });

  test("Retry-After: 0 does not skip the reconnection time", async () => {
    const times: number[] = [];
    const stream = connectSSE("http://127.0.0.1:1/", {
      reconnect: { delay: 150, backoff: 0, retryStatus: true },
      fetch: () => {
        times.push(Date.now());
        return Promise.resolve(
          times.length < 3
            ? new Response("busy", {
              status: 503,
              headers: { "Retry-After": "0" },
            })
            : new Response("data: ok\n\n", { headers: SSE }),
        );
      },
    });
    assert.equal((await stream.next()).value?.data, "ok");
    stream.close();
    assert.ok(
      times[1] - times[0] >= 140 && times[2] - times[1] >= 140,
      String(times),
    );
  });

  test("close() while an error response is read ends iteration cleanly", async () => {
    const body = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(new TextEncoder().encode("partial error text")),
    });
    const stream = connectSSE("http://127.0.0.1:1/", {
      fetch: () => Promise.resolve(new Response(body, { status: 500 })),
    });
    const pending = stream.next();
    await sleep(50);
    stream.close();
    assert.deepEqual(await pending, { done: true, value: undefined });
  });

  test("lastEventId is that of the last message handed out, not of the parser", async () => {
    const stream = connectSSE("http://127.0.0.1:1/", {
      reconnect: false,
      fetch: () =>
        Promise.resolve(
          new Response(
            "id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n",
            {
              headers: SSE,
            },
          ),
        ),
    });
    await stream.next();
    assert.equal(stream.lastEventId, "1");
    await stream.next();
    assert.equal(stream.lastEventId, "2");
    stream.close();
  });

  test("an id some runtimes refuse as a header value does not stop reconnection", async () => {
    let calls = 0;
    const stream = connectSSE("http://127.0.0.1:1/", {
      reconnect: { delay: 1, backoff: 0 },
      fetch: () => {
        calls++;
        return Promise.resolve(
          new Response(`id: \x01ctl\ndata: ${calls}\n\n`, { headers: SSE }),
        );
      },
    });
    assert.deepEqual((await take(stream, 2)).map((m) => m.data), ["1", "2"]);
    stream.close();
  });

  test("a repeated Content-Type counts by its last value, as Fetch extracts it", async () => {
    const headers = new Headers();
    headers.append("Content-Type", "text/html");
    headers.append("Content-Type", "text/event-stream");
    const stream = connectSSE("http://127.0.0.1:1/", {
      reconnect: false,
      fetch: () => Promise.resolve(new Response("data: ok\n\n", { headers })),
    });
    assert.equal((await stream.next()).value?.data, "ok");
    stream.close();
  });
});

/** A raw TCP server on 127.0.0.1, for servers no HTTP library would be. */
interface RawServer {
  url: string;
  /** Connections that sent a request so far. */
  requests: number;
  /** How many of those have closed (the server never closes one itself). */
  closed: number;
  close(): Promise<void>;
}

/**
 * Serves with `answer`, given each connection that sends a request and its
 * number from 1; it may never write. Connections that send nothing are not
 * counted: Node's fetch opens a spare one after an abort.
 */
async function rawServer(
  answer: (socket: Socket, n: number) => void = () => {},
): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    // A client that aborts resets the connection; that is the point here.
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    // Read (and drop) the request, or the client's close goes unseen.
    socket.once("data", () => {
      socket.on("close", () => raw.closed++);
      answer(socket, ++raw.requests);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const raw: RawServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    requests: 0,
    closed: 0,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return raw;
}

const HEAD =
  "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\r\n";

/** Writes `text` a byte every `every` ms, until the socket closes. */
function dribble(socket: Socket, text: string, every: number): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (sent < text.length) socket.write(text[sent++]);
    else clearInterval(timer);
  }, every);
  socket.on("close", () => clearInterval(timer));
}

/** Asserts the error iteration throws when no response head came within `ms`. */
function noHead(ms: number, option: string) {
  return (error: unknown): true => {
    assert.ok(error instanceof DOMException, `not a DOMException: ${error}`);
    assert.equal(error.name, "TimeoutError");
    assert.match(
      error.message,
      new RegExp(`sent no response head within ${ms} ms \\(${option}\\)`),
    );
    return true;
  };
}

/**
 * A server that sends `data: <request>-a` at once and `data: <request>-b`
 * `later` ms after, then holds the stream open: both messages come from
 * request 1 only if nothing aborted the open connection in between.
 */
function twoParts(later: number): () => Response {
  let requests = 0;
  return () => {
    const n = ++requests;
    const encode = (text: string) => new TextEncoder().encode(text);
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(encode(`data: ${n}-a\n\n`));
          timer = setTimeout(() => {
            try {
              controller.enqueue(encode(`data: ${n}-b\n\n`));
            } catch {
              // Cancelled meanwhile.
            }
          }, later);
        },
        cancel: () => clearTimeout(timer),
      }),
      { headers: SSE },
    );
  };
}

/**
 * Runs `body` while tracking the timers of exactly `ms` ms (a delay nothing
 * else uses): `live` holds those set and neither cleared nor fired yet.
 */
async function withTimersOf(
  ms: number,
  body: (live: Set<unknown>) => Promise<void>,
): Promise<void> {
  const live = new Set<unknown>();
  const set = globalThis.setTimeout;
  const clear = globalThis.clearTimeout;
  const call = set as unknown as (
    fire: () => void,
    delay?: number,
  ) => unknown;
  globalThis.setTimeout = ((fire: () => void, delay?: number) => {
    if (delay !== ms) return call(fire, delay);
    const id = call(() => {
      live.delete(id);
      fire();
    }, delay);
    live.add(id);
    return id;
  }) as unknown as typeof setTimeout;
  globalThis.clearTimeout = ((id: unknown) => {
    live.delete(id);
    (clear as (id: unknown) => void)(id);
  }) as typeof clearTimeout;
  try {
    await body(live);
  } finally {
    globalThis.setTimeout = set;
    globalThis.clearTimeout = clear;
  }
}

describe("connectSSE: timeouts", () => {
  for (const idleTimeout of [Infinity, 2 ** 32]) {
    test(`idleTimeout: ${idleTimeout} never fires, though timers cannot hold it`, async () => {
      await withServer(
        serverKinds[0],
        twoParts(200),
        (url) =>
          closing(connectSSE(url, { ...fast, idleTimeout }), async (stream) => {
            const messages = await within(take(stream, 2), 10_000, "messages");
            assert.deepEqual(messages.map((m) => m.data), ["1-a", "1-b"]);
          }),
      );
    });
  }

  for (
    const [name, answer] of [
      ["accepts and never answers", () => {}],
      // A byte every 40 ms: bytes keep coming, faster than the timeout, so
      // only a bound on the whole head catches it.
      [
        "dribbles its head a byte every 40 ms",
        (socket: Socket) => dribble(socket, HEAD + "data: late\n\n", 40),
      ],
    ] as const
  ) {
    test(`a server that ${name} is reconnected after connectTimeout, then given up on after maxAttempts`, async () => {
      const times: number[] = [];
      // How many connections the client had closed as each request came.
      const closedBefore: number[] = [];
      const server: RawServer = await rawServer((socket) => {
        times.push(Date.now());
        closedBefore.push(server.closed);
        answer(socket);
      });
      const stream = connectSSE(server.url, {
        connectTimeout: 200,
        reconnect: { delay: 100, backoff: 0, maxAttempts: 3 },
      });
      try {
        await within(
          assert.rejects(stream.next(), noHead(200, "connectTimeout")),
          10_000,
          "giving up",
        );
        assert.equal(stream.readyState, 2);
        assert.equal(server.requests, 3, "one connection per attempt");
        for (let i = 1; i < times.length; i++) {
          // The timeout, then the reconnection time.
          assert.ok(times[i] - times[i - 1] >= 250, String(times));
        }
        // The request was aborted when the timeout fired, not left to run.
        assert.deepEqual(closedBefore, [0, 1, 2]);
        await until(
          () => Promise.resolve(server.closed),
          (closed) => closed === 3,
          "the client closing every connection it timed out",
          5_000,
        );
      } finally {
        stream.close();
        await server.close();
      }
    });
  }

  test("a dribbled head counts as one failed attempt: the next attempt opens", async () => {
    const closedBefore: number[] = [];
    const server: RawServer = await rawServer((socket, n) => {
      closedBefore.push(server.closed);
      if (n === 1) dribble(socket, HEAD + "data: first\n\n", 40);
      else socket.write(HEAD + "data: second\n\n");
    });
    const stream = connectSSE(server.url, {
      connectTimeout: 300,
      reconnect: { delay: 100, backoff: 0, maxAttempts: 2 },
    });
    try {
      const { value } = await within(stream.next(), 10_000, "a message");
      assert.equal(value?.data, "second");
      assert.equal(server.requests, 2);
      assert.deepEqual(closedBefore, [0, 1], "the dribbling one was aborted");
    } finally {
      stream.close();
      await server.close();
    }
  });

  test("idleTimeout bounds the head wait when connectTimeout is not given", async () => {
    const server = await rawServer();
    const stream = connectSSE(server.url, {
      idleTimeout: 200,
      reconnect: { delay: 10, backoff: 0, maxAttempts: 2 },
    });
    try {
      await within(
        assert.rejects(stream.next(), noHead(200, "idleTimeout")),
        10_000,
        "giving up",
      );
      assert.equal(server.requests, 2);
    } finally {
      stream.close();
      await server.close();
    }
  });

  test("connectTimeout wins over idleTimeout, and reconnect: false throws at the first timeout", async () => {
    const server = await rawServer();
    const stream = connectSSE(server.url, {
      idleTimeout: 60_000,
      connectTimeout: 150,
      reconnect: false,
    });
    try {
      await within(
        assert.rejects(stream.next(), noHead(150, "connectTimeout")),
        10_000,
        "the timeout",
      );
      assert.equal(server.requests, 1);
    } finally {
      stream.close();
      await server.close();
    }
  });

  test("the head timer ends with the head: an open stream outlives connectTimeout", async () => {
    await withServer(serverKinds[0], twoParts(400), (url) =>
      closing(
        connectSSE(url, { ...fast, connectTimeout: 150 }),
        async (stream) => {
          const messages = await within(take(stream, 2), 10_000, "messages");
          assert.deepEqual(messages.map((m) => m.data), ["1-a", "1-b"]);
        },
      ));
  });

  test("no head timer is left behind: not after close(), an abort, an open or a refused connection", async () => {
    const ms = 61_234;
    const silent = await rawServer();
    const refused = await serve(() => new Response());
    await refused.close();
    const streams: SSEConnection[] = [];
    const connect = (url: string, init: ConnectSSEInit) => {
      streams.push(connectSSE(url, { ...init, connectTimeout: ms }));
      return streams.at(-1)!;
    };
    try {
      await withTimersOf(ms, async (live) => {
        const closed = connect(silent.url, {});
        const pending = closed.next();
        await until(
          () => Promise.resolve(silent.requests),
          (n) => n === 1,
          "the connection",
        );
        assert.equal(live.size, 1, "the timer runs while the head is due");
        closed.close();
        assert.deepEqual(await within(pending, 5_000, "close()"), {
          done: true,
          value: undefined,
        });
        assert.equal(live.size, 0, "after close()");

        const aborter = new AbortController();
        const aborted = connect(silent.url, { signal: aborter.signal });
        const waiting = aborted.next();
        await until(
          () => Promise.resolve(silent.requests),
          (n) => n === 2,
          "the connection",
        );
        aborter.abort();
        await within(waiting, 5_000, "the abort");
        assert.equal(live.size, 0, "after an abort");

        await withServer(serverKinds[0], twoParts(60_000), async (url) => {
          const open = connect(url, {});
          await within(open.next(), 5_000, "a message");
          assert.equal(live.size, 0, "after an open");
          open.close();
        });

        const failed = connect(refused.url, { reconnect: { maxAttempts: 1 } });
        await within(
          assert.rejects(failed.next(), TypeError),
          5_000,
          "the refusal",
        );
        assert.equal(live.size, 0, "after a refused connection");
      });
      await until(
        () => Promise.resolve(silent.closed),
        (n) => n === 2,
        "the client closing the connections it gave up",
        5_000,
      );
    } finally {
      for (const stream of streams) stream.close();
      await silent.close();
    }
  });

  test("a fetch that ignores its signal is given up on too, and its late response cancelled", async () => {
    let calls = 0;
    let cancelled = false;
    const stream = connectSSE("http://127.0.0.1:1/", {
      connectTimeout: 100,
      reconnect: { delay: 1, backoff: 0, maxAttempts: 2 },
      fetch: async () => {
        calls++;
        await sleep(300);
        return new Response(
          new ReadableStream({ cancel: () => void (cancelled = true) }),
          { headers: SSE },
        );
      },
    });
    await closing(stream, async () => {
      await within(
        assert.rejects(stream.next(), noHead(100, "connectTimeout")),
        5_000,
        "giving up",
      );
      assert.equal(calls, 2);
      await until(
        () => Promise.resolve(cancelled),
        (done) => done,
        "the late response's body cancelled",
        5_000,
      );
    });
  });

  test("close() while the headers function runs makes no request", async () => {
    let calls = 0;
    const stream: SSEConnection = connectSSE("http://127.0.0.1:1/", {
      headers: () => {
        stream.close();
        return {};
      },
      fetch: () => {
        calls++;
        return new Promise(() => {});
      },
    });
    assert.deepEqual(await within(stream.next(), 2_000, "close()"), {
      done: true,
      value: undefined,
    });
    assert.equal(calls, 0);
  });

  test("close() ends the wait on a fetch that never settles", async () => {
    const stream = connectSSE("http://127.0.0.1:1/", {
      connectTimeout: 60_000,
      fetch: () => new Promise(() => {}),
    });
    const pending = stream.next();
    await sleep(20);
    stream.close();
    assert.deepEqual(await within(pending, 2_000, "close()"), {
      done: true,
      value: undefined,
    });
  });

  for (const connectTimeout of [Infinity, 2 ** 32]) {
    test(`connectTimeout: ${connectTimeout} waits for a slow head`, async () => {
      const stream = connectSSE("http://127.0.0.1:1/", {
        connectTimeout,
        reconnect: false,
        fetch: async () => {
          await sleep(100);
          return new Response("data: slow\n\n", { headers: SSE });
        },
      });
      await closing(stream, async () => {
        const { value } = await within(stream.next(), 5_000, "the message");
        assert.equal(value?.data, "slow");
      });
    });
  }

  test("rejects a connectTimeout that is not a number ≥ 1", () => {
    for (const value of [0, -1, NaN, "100", null]) {
      assert.throws(
        () => connectSSE("http://x/", { connectTimeout: value as number }),
        (error: unknown) =>
          error instanceof RangeError &&
          /^Invalid connectTimeout option: expected a number ≥ 1, got /.test(
            error.message,
          ),
        String(value),
      );
    }
  });
});
