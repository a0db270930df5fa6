// ssekit/node behind a real Express 5 app on 127.0.0.1: each of Express's
// body parsers reads the request body before the handler does, and the
// handler must still get that body (never a request that hangs); the
// handler sees what Express put on req and res.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createServer } from "node:http";
import { connect } from "node:net";
import { gzipSync } from "node:zlib";
import express from "express";
import { createSSEStream, parseSSE } from "../mod.ts";
import { type NodeListenerOptions, toNodeListener } from "../src/node.ts";
import { sleep, within } from "./support/time.ts";

/** Serves `app` on 127.0.0.1 for the length of `body`. */
async function withExpress(
  app: express.Express,
  body: (url: string, port: number) => Promise<void>,
): Promise<void> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  try {
    await body(`http://127.0.0.1:${port}`, port);
  } finally {
    // A request that hung would otherwise keep the server open.
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * A handler that reads the body with `read` and streams back, as events, what
 * it read and the headers that describe the body it was given.
 */
function echo(
  read: (request: Request) => Promise<unknown>,
  options?: NodeListenerOptions,
) {
  return toNodeListener(async (request) => {
    const body = await read(request);
    const { headers } = request;
    return createSSEStream([
      { event: "body", data: JSON.stringify(body) },
      {
        event: "headers",
        data: JSON.stringify({
          type: headers.get("content-type"),
          length: headers.get("content-length"),
          encoding: headers.get("content-encoding"),
        }),
      },
    ], { signal: request.signal });
  }, options);
}

interface Echoed {
  status: number;
  events: Record<string, unknown>;
}

/** POSTs and collects the echoed events; a server that hangs fails it. */
function post(url: string, init: RequestInit): Promise<Echoed> {
  return within(
    (async () => {
      const response = await fetch(url, { method: "POST", ...init });
      const events: Record<string, unknown> = {};
      if (!response.headers.get("content-type")?.includes("event-stream")) {
        return {
          status: response.status,
          events: { text: await response.text() },
        };
      }
      for await (const message of parseSSE(response)) {
        events[message.type] = JSON.parse(message.data);
      }
      return { status: response.status, events };
    })(),
    5_000,
    `the response to POST ${url}`,
  );
}

const json = (request: Request) => request.json();
const text = (request: Request) => request.text();
const bytes = async (request: Request) =>
  Array.from(new Uint8Array(await request.arrayBuffer()));
const form = async (request: Request) => [...(await request.formData())];

describe("toNodeListener behind Express's body parsers", () => {
  test("express.json: the handler reads the parsed JSON", async () => {
    const app = express();
    app.post("/json", express.json(), echo(json));
    app.post("/loose", express.json({ strict: false }), echo(json));
    // As for navigator.sendBeacon, which can only send text/plain.
    app.post("/any", express.json({ type: "*/*" }), echo(json));
    await withExpress(app, async (url) => {
      // Spaced out, so the rebuilt body is shorter than the Content-Length sent.
      const sent = '{ "prompt" : "héllo", "n" : [1, 2] }';
      const echoed = await post(`${url}/json`, {
        headers: { "content-type": "application/json; charset=utf-8" },
        body: sent,
      });
      assert.equal(echoed.status, 200);
      assert.deepEqual(echoed.events, {
        body: { prompt: "héllo", n: [1, 2] },
        headers: {
          type: "application/json; charset=utf-8",
          length: null,
          encoding: null,
        },
      });
      // A top-level string: the parser leaves the value, not JSON text.
      const loose = await post(`${url}/loose`, {
        headers: { "content-type": "application/json" },
        body: '"just text"',
      });
      assert.equal(loose.events.body, "just text");
      // The content-type follows the body it now describes.
      const beacon = await post(`${url}/any`, {
        headers: { "content-type": "text/plain;charset=UTF-8" },
        body: '{"seen":true}',
      });
      assert.deepEqual(beacon.events, {
        body: { seen: true },
        headers: { type: "application/json", length: null, encoding: null },
      });
    });
  });

  test("express.text: the handler reads the text, re-encoded as UTF-8", async () => {
    const app = express();
    app.post("/text", express.text(), echo(text));
    await withExpress(app, async (url) => {
      const echoed = await post(`${url}/text`, {
        headers: { "content-type": "text/plain; charset=iso-8859-1" },
        body: Buffer.from("café crème", "latin1"),
      });
      assert.equal(echoed.status, 200);
      assert.deepEqual(echoed.events, {
        body: "café crème",
        headers: {
          type: "text/plain; charset=utf-8",
          length: null,
          encoding: null,
        },
      });
    });
  });

  test("express.raw: the handler reads the bytes, inflated when they came compressed", async () => {
    const app = express();
    app.post("/raw", express.raw(), echo(bytes));
    const sent = Array.from({ length: 256 }, (_, i) => i);
    await withExpress(app, async (url) => {
      const echoed = await post(`${url}/raw`, {
        headers: { "content-type": "application/octet-stream" },
        body: new Uint8Array(sent),
      });
      assert.equal(echoed.status, 200);
      assert.deepEqual(echoed.events, {
        body: sent,
        headers: {
          type: "application/octet-stream",
          length: null,
          encoding: null,
        },
      });
      const gzipped = await post(`${url}/raw`, {
        headers: {
          "content-type": "application/octet-stream",
          "content-encoding": "gzip",
        },
        body: new Uint8Array(gzipSync(new Uint8Array(sent))),
      });
      assert.deepEqual(gzipped.events.body, sent);
      assert.deepEqual(gzipped.events.headers, {
        type: "application/octet-stream",
        length: null,
        encoding: null,
      });
    });
  });

  test("express.urlencoded: the handler reads the form, re-encoded from the parsed object", async () => {
    const app = express();
    app.post("/simple", express.urlencoded(), echo(form));
    app.post("/extended", express.urlencoded({ extended: true }), echo(form));
    await withExpress(app, async (url) => {
      const type = "application/x-www-form-urlencoded";
      const simple = await post(`${url}/simple`, {
        headers: { "content-type": `${type}; charset=iso-8859-1` },
        body: "a=1&a=2&b=x+y&c=%E9",
      });
      assert.equal(simple.status, 200);
      assert.deepEqual(simple.events, {
        body: [["a", "1"], ["a", "2"], ["b", "x y"], ["c", "é"]],
        headers: {
          type: `${type}; charset=utf-8`,
          length: null,
          encoding: null,
        },
      });
      // Nested names come back in the bracket form qs reads them from.
      const extended = await post(`${url}/extended`, {
        headers: { "content-type": type },
        body: "user[name]=Ada&user[langs][]=en&user[langs][]=fr&n=1",
      });
      assert.deepEqual(extended.events.body, [
        ["user[name]", "Ada"],
        ["user[langs]", "en"],
        ["user[langs]", "fr"],
        ["n", "1"],
      ]);
    });
  });

  test("a parser that left nothing in req.body: reading the body rejects with a TypeError, at once", async () => {
    const reported: unknown[] = [];
    const app = express();
    // Reads the body and keeps nothing, as a logger or a signature check might.
    const drain: express.RequestHandler = (req, _res, next) => {
      req.resume();
      req.once("end", () => next());
    };
    app.post("/read", drain, echo(text, { onError: (e) => reported.push(e) }));
    app.post(
      "/unread",
      drain,
      toNodeListener(() => new Response("answered without the body")),
    );
    await withExpress(app, async (url) => {
      const read = await post(`${url}/read`, { body: "lost" });
      assert.equal(read.status, 500);
      assert.equal(reported.length, 1);
      assert.ok(reported[0] instanceof TypeError, String(reported[0]));
      assert.match(
        (reported[0] as Error).message,
        /already read by a body parser, which left no req\.body/,
      );
      // An empty body lost nothing: it is still the whole body.
      const empty = await post(`${url}/read`, {
        headers: { "content-length": "0" },
        body: "",
      });
      assert.deepEqual(empty.events.body, "");
      assert.equal(reported.length, 1);
      const unread = await post(`${url}/unread`, { body: "lost" });
      assert.deepEqual(unread, {
        status: 200,
        events: { text: "answered without the body" },
      });
    });
  });

  test("with no parser, or one that skips the content-type, the body still streams as it arrives", async () => {
    const app = express();
    // Skips text/plain: it sets req.body to undefined and leaves the stream.
    app.use(express.json());
    app.post(
      "/stream",
      toNodeListener((request) =>
        createSSEStream(request.body!.pipeThrough(new TextDecoderStream()), {
          signal: request.signal,
        })
      ),
    );
    await withExpress(app, async (_url, port) => {
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => {});
      let received = "";
      socket.setEncoding("utf8");
      socket.on("data", (data: string) => received += data);
      const waitFor = (wanted: string) =>
        within(
          (async () => {
            while (!received.includes(wanted)) await sleep(10);
          })(),
          5_000,
          JSON.stringify(wanted),
        );
      try {
        socket.write(
          "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n" +
            "Transfer-Encoding: chunked\r\n\r\n3\r\none\r\n",
        );
        // Echoed before the rest is sent: the body was not buffered first.
        await waitFor("data: one\n\n");
        socket.write("3\r\ntwo\r\n");
        await waitFor("data: two\n\n");
        socket.write("0\r\n\r\n");
        await waitFor("\r\n0\r\n\r\n");
      } finally {
        socket.destroy();
      }
    });
  });
});

describe("toNodeListener's context under Express", () => {
  test("the handler sees req.params and res.locals that Express set", async () => {
    const app = express();
    let sameObjects = false;
    app.post(
      "/rooms/:room",
      (_req, res, next) => {
        res.locals.user = "ada";
        next();
      },
      express.json(),
      toNodeListener<express.Request, express.Response>(
        async (request, { req, res }) => {
          sameObjects = res.req === req;
          const { message } = await request.json();
          return createSSEStream([{
            event: "seen",
            data: JSON.stringify({
              room: req.params.room,
              user: res.locals.user,
              message,
            }),
          }], { signal: request.signal });
        },
      ),
    );
    await withExpress(app, async (url) => {
      const echoed = await post(`${url}/rooms/lobby`, {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: "hi" }),
      });
      assert.equal(echoed.status, 200);
      assert.deepEqual(echoed.events, {
        seen: { room: "lobby", user: "ada", message: "hi" },
      });
      assert.ok(sameObjects, "the context's req and res are not a pair");
    });
  });
});
