// connectSSE against servers that hold back or dribble the response head
// (issue 12.7), and its timers: raw TCP servers on 127.0.0.1, so these do
// not run in Chromium with the rest of the client's tests.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { sleep, until, within } from "./support/time.ts";
import { connectSSE, type ConnectSSEInit, type SSEConnection } from "../mod.ts";
import { serve, serverKinds, withServer } from "./support/server.ts";
import { closing, fast, SSE, take } from "./support/connect.ts";

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

  test("bytes keep an open connection past idleTimeout, comments too", async () => {
    // Seven comments 50 ms apart, then the second message: 400 ms in all,
    // twice the idleTimeout, with no gap as long as it.
    let requests = 0;
    const encode = (text: string) => new TextEncoder().encode(text);
    await withServer(serverKinds[0], () => {
      const n = ++requests;
      let timer: ReturnType<typeof setInterval> | undefined;
      let beats = 0;
      return new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(encode(`data: ${n}-a\n\n`));
            timer = setInterval(() => {
              if (++beats === 8) clearInterval(timer);
              try {
                controller.enqueue(
                  encode(beats < 8 ? ":\n" : `data: ${n}-b\n\n`),
                );
              } catch {
                clearInterval(timer); // Cancelled meanwhile.
              }
            }, 50);
          },
          cancel: () => clearInterval(timer),
        }),
        { headers: SSE },
      );
    }, (url) =>
      closing(
        connectSSE(url, { ...fast, idleTimeout: 200 }),
        async (stream) => {
          const messages = await within(take(stream, 2), 10_000, "messages");
          assert.deepEqual(messages.map((m) => m.data), ["1-a", "1-b"]);
        },
      ));
  });

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

  test("rejects a connectTimeout that is not a number ≥ 1, saying what it got", () => {
    const got = ["number 0", "number -1", "number NaN", '"100"', "null"];
    for (const [i, value] of [0, -1, NaN, "100", null].entries()) {
      assert.throws(
        () => connectSSE("http://x/", { connectTimeout: value as number }),
        (error: unknown) =>
          error instanceof RangeError &&
          error.message ===
            `Invalid connectSSE option "connectTimeout": expected a number ≥ 1, got ${
              got[i]
            }`,
        String(value),
      );
    }
  });
});
