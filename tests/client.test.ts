// connectSSE against real servers on 127.0.0.1, following the EventSource
// processing model of WHATWG HTML §9.2.2–9.2.4 (establishing, announcing,
// reestablishing and failing the connection).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { sleep } from "./support/time.ts";
import { fast, SSE, take } from "./support/connect.ts";
import {
  connectSSE,
  defineEvents,
  getLastEventId,
  SSEResponseError,
} from "../mod.ts";
import { serve, serverKinds, withServer } from "./support/server.ts";

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

  test("rejects out-of-range options, naming them", () => {
    const cases = [
      [{ idleTimeout: 0 }, "idleTimeout"],
      [{ reconnect: { delay: -1 } }, "reconnect.delay"],
      [{ reconnect: { backoff: -1 } }, "reconnect.backoff"],
      [{ reconnect: { maxBackoff: -1 } }, "reconnect.maxBackoff"],
      [{ reconnect: { maxAttempts: 0 } }, "reconnect.maxAttempts"],
    ] as const;
    for (const [init, name] of cases) {
      assert.throws(
        () => connectSSE("http://x/", init),
        (error: unknown) =>
          error instanceof RangeError &&
          error.message.startsWith(`Invalid connectSSE option "${name}": `),
        name,
      );
    }
  });

  test("a typed option of the wrong type throws before the caller's signal is listened on", () => {
    const listening: unknown[] = [];
    const { signal } = new AbortController();
    // Observes the connection's listener, which would keep it (and its
    // closer) alive as long as the caller's signal lives.
    signal.addEventListener = (...args: unknown[]) => void listening.push(args);
    const events = defineEvents<{ token: string }>();
    for (
      const [init, name, expected] of [
        [{ events, onInvalid: 5 }, "onInvalid", "a function"],
        [{ events: 5 }, "events", "the result of defineEvents()"],
      ] as const
    ) {
      assert.throws(
        () => connectSSE("http://x/", { signal, ...init } as never),
        TypeError,
      );
      assert.deepEqual(listening, [], name);
      assert.throws(
        () => connectSSE("http://x/", init as never),
        {
          message:
            `Invalid connectSSE option "${name}": expected ${expected}, got number 5`,
        },
      );
    }
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
