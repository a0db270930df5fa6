// The framework recipes of examples/<framework>/, each started as its users
// start it, on the framework's own server and in a process of its own (the
// Bun and Deno ones by their documented command), checked over real
// sockets: the token stream and the relay arrive byte for byte, a client
// that leaves reaches the producer's `finally` (or the upstream's) within
// 1 s, and a hub topic resumes after Last-Event-ID with exactly what was
// missed. Then where the frameworks' own SSE helpers fall short, each
// beside createSSEStream on the same server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:http2";
import { join } from "node:path";
import { serve as honoServe } from "@hono/node-server";
import Fastify from "fastify";
import {
  createSSEStream,
  formatEvent,
  parseSSE,
  type SSEEvent,
} from "../mod.ts";
import { fakeOpenAI, fakeReply } from "../examples/openai_relay.ts";
import type { RecipeStats } from "../examples/recipe.ts";
import { type Child, root, spawnChild, spawnScript } from "./support/child.ts";
import { RawClient } from "./support/raw_client.ts";
import { startNext } from "./support/next.ts";
import { runtimeName } from "./support/runtime.ts";
import { serve, type TestServer, withServer } from "./support/server.ts";
import { startWorkersRecipe } from "./workerd/_recipe.ts";
import { sleep, until, within } from "./support/time.ts";

interface Recipe {
  name: string;
  /** Served by tests/support/recipe_server.ts, on the runtime running the tests. */
  script?: string;
  /** Or run as its comment says: the runtime and the example's file. */
  command?: ["bun" | "deno", string];
  /** Or started by a function of its own, given the relay's upstream. */
  start?: (upstream: string) => Promise<Child>;
  /** workerd sees a client leave only at the response's next write. */
  seesLeavingLate?: true;
}

const recipes: Recipe[] = [
  { name: "Express 5", script: "express" },
  { name: "Fastify 5", script: "fastify" },
  { name: "h3 2", script: "h3" },
  { name: "Hono on Node (@hono/node-server)", script: "hono-node" },
  { name: "Hono on Bun", command: ["bun", "examples/hono/bun.ts"] },
  { name: "Hono on Deno", command: ["deno", "examples/hono/deno.ts"] },
  { name: "Elysia on Bun", command: ["bun", "examples/elysia/server.ts"] },
  {
    name: "Cloudflare Workers (workerd, Durable Object hub)",
    start: startWorkersRecipe,
    seesLeavingLate: true,
  },
];
// `next start` is Node's server whichever runtime runs the tests: built
// and checked once, under Node.
if (runtimeName === "node") {
  recipes.push({
    name: "Next.js (next build && next start)",
    start: startNext,
  });
} else console.log("frameworks.test.ts: Next.js is checked under Node");

const AUTH = { authorization: "Bearer secret" };
const JSON_BODY = { "content-type": "application/json" };
// Non-ASCII, and tokens that end in CR LF: data the encoder splits in lines.
const PROMPT = "héllo\r\nwörld 🎉";

/** The wire form of a reply as the recipes stream it. */
function wire(tokens: string[]): string {
  const events: SSEEvent[] = tokens.map((data) => ({ event: "token", data }));
  events.push({ event: "done", data: "" });
  return ":\n" + events.map((event) => formatEvent(event)).join("");
}

/** Starts a recipe as a process of its own, listening on a free port. */
function startRecipe(recipe: Recipe, upstream: string): Promise<Child> {
  if (recipe.start) return recipe.start(upstream);
  if (recipe.script) {
    return spawnScript("recipe_server", {
      env: { SSEKIT_RECIPE: recipe.script, SSEKIT_UPSTREAM: upstream },
    });
  }
  const [runtime, file] = recipe.command!;
  const args = [join(root(), file), "--port=0", `--upstream=${upstream}`];
  return spawnChild(
    runtime,
    runtime === "deno" ? ["run", "-A", ...args] : args,
    // As a person stops it (runAlone closes everything, then exits).
    { stopWith: "SIGTERM" },
  );
}

// The relay's upstream: the bundled fake model, in this process, so that
// its generator's end is seen here whichever process relays it.
interface UpstreamEnd {
  sent: number;
  total: number;
  completed: boolean;
}
let upstream: TestServer;
const upstreamEnds: UpstreamEnd[] = [];

// Hono's streamSSE and Elysia's sse() on Bun.serve, beside createSSEStream.
// The two quiet streams open first, so that their 15 s of silence pass
// while the recipes are checked; the test that reads them comes last.
let bunHelpers: Child;
let quiet: { hono: RawClient; ssekit: RawClient } | undefined;

before(async () => {
  upstream = await serve((request) =>
    fakeOpenAI(request, { delay: 5, onEnd: (end) => upstreamEnds.push(end) })
  );
  bunHelpers = await spawnChild("bun", [
    join(root(), "tests/support/bun_helpers.ts"),
  ]);
  quiet = {
    hono: new RawClient(new URL("/quiet/hono", bunHelpers.url).href),
    ssekit: new RawClient(new URL("/quiet/ssekit", bunHelpers.url).href),
  };
});
after(async () => {
  quiet?.hono.close();
  quiet?.ssekit.close();
  await bunHelpers?.stop();
  await upstream?.close();
});

for (const recipe of recipes) {
  describe(`examples: ${recipe.name}`, () => {
    let server: Child;
    const url = (path: string) => new URL(path, server.url).href;
    const stats = async (): Promise<RecipeStats> =>
      await (await fetch(url("/stats"))).json();
    const publish = async (topic: string, event: SSEEvent) => {
      const response = await fetch(url(`/topics/${topic}`), {
        method: "POST",
        headers: { ...AUTH, ...JSON_BODY },
        body: JSON.stringify(event),
      });
      assert.equal(response.status, 200);
      return ((await response.json()) as { id: string }).id;
    };
    const post = (
      path: string,
      body: object,
      headers: Record<string, string> = AUTH,
    ) =>
      new RawClient(url(path), { ...headers, ...JSON_BODY }, {
        method: "POST",
        body: JSON.stringify(body),
      });

    before(async () => {
      server = await startRecipe(
        recipe,
        new URL("/v1/chat/completions", upstream.url).href,
      );
    });
    after(() => server?.stop());

    test("POST /chat streams the reply intact, behind auth, with CORS", async () => {
      const refused = post("/chat", { prompt: PROMPT }, {});
      assert.equal((await refused.response).status, 401);
      refused.close();

      const client = post("/chat", { prompt: PROMPT });
      const { status, headers } = await client.response;
      assert.equal(status, 200);
      assert.equal(
        headers.get("content-type"),
        "text/event-stream; charset=utf-8",
      );
      assert.equal(headers.get("access-control-allow-origin"), "*");
      assert.equal(headers.get("cache-control"), "no-cache, no-transform");
      await client.ended;
      assert.equal(client.body, wire(fakeReply(PROMPT)));
      client.close();
    });

    test("a client that leaves /chat stops the reply's generator within 1 s", async () => {
      const client = post("/chat", { prompt: PROMPT });
      await client.waitFor("event: token");
      const { replies } = await stats();
      assert.equal(replies.finished, replies.started - 1, "one reply running");
      client.close();
      const now = await until(
        stats,
        (now) => now.replies.finished === replies.started,
        "the reply's finally",
        1_000,
      );
      assert.equal(now.replies.completed, replies.completed, "stopped early");
    });

    test("GET /topics/:topic resumes after Last-Event-ID with exactly what was missed", async () => {
      const topic = `news-${Math.random().toString(36).slice(2)}`;
      const first = new RawClient(url(`/topics/${topic}`));
      assert.equal((await first.response).status, 200);
      await first.waitFor(":\n");
      const read: SSEEvent[] = [
        { data: "one" },
        { data: "two\nlines" },
        { event: "note", data: { n: 3 } },
      ];
      const ids: string[] = [];
      for (const event of read) ids.push(await publish(topic, event));
      const seen = (events: SSEEvent[], from: number) =>
        ":\n" +
        events.map((event, i) => formatEvent({ ...event, id: ids[from + i] }))
          .join("");
      await first.waitFor(`id: ${ids[2]}\n`);
      assert.equal(first.body, seen(read, 0));
      first.close();
      // workerd sees a client's leaving at the response's next write: the
      // next publish, there.
      if (!recipe.seesLeavingLate) {
        await until(
          stats,
          (now) => now.subscribers === 0,
          "the subscription's end",
          1_000,
        );
      }

      const missed: SSEEvent[] = [{ data: "four" }, { data: "five" }];
      for (const event of missed) ids.push(await publish(topic, event));
      const resumed = new RawClient(url(`/topics/${topic}`), {
        "Last-Event-ID": ids[2],
      });
      await resumed.waitFor(`id: ${ids[4]}\n`);
      const live: SSEEvent = { data: "six" };
      ids.push(await publish(topic, live));
      await resumed.waitFor(`id: ${ids[5]}\n`);
      assert.equal(resumed.body, seen([...missed, live], 3));
      resumed.close();
    });

    test("POST /relay relays the upstream's tokens intact; a client that leaves stops the upstream within 1 s", async () => {
      const client = post("/relay", { prompt: PROMPT });
      assert.equal((await client.response).status, 200);
      await client.ended;
      assert.equal(client.body, wire(fakeReply(PROMPT)));
      client.close();

      const ends = upstreamEnds.length;
      const leaving = post("/relay", { prompt: PROMPT });
      await leaving.waitFor("event: token");
      leaving.close();
      const [end] = await until(
        () => Promise.resolve(upstreamEnds.slice(ends)),
        (now) => now.length > 0,
        "the upstream's finally",
        1_000,
      );
      assert.equal(end.completed, false);
    });
  });
}

describe("where a framework's own helper falls short", () => {
  const lines = async (path: string) => {
    const messages = [];
    const response = await fetch(new URL(path, bunHelpers.url));
    for await (const message of parseSSE(response)) messages.push(message);
    return messages.map(({ data }) => data);
  };

  test("Elysia's sse() does not split multi-line data: the client gets its first line", async () => {
    assert.deepEqual(await lines("/lines/ssekit"), ["line one\nline two"]);
    assert.deepEqual(await lines("/lines/elysia"), ["line one"]);
  });

  test("Hono's streamSSE sends Transfer-Encoding and Connection: over HTTP/2 (@hono/node-server, h2c) its stream fails", async () => {
    const child = await spawnScript("hono_h2");
    const session = connect(child.url);
    session.on("error", () => {});
    // A status, or the stream's error; the body read to its end.
    const get = (path: string) =>
      within(
        new Promise<{ status?: number; body: string; error?: string }>(
          (resolve) => {
            const result: { status?: number; body: string; error?: string } = {
              body: "",
            };
            const stream = session.request({ ":path": path });
            stream.setEncoding("utf8");
            stream.on("response", (headers) => {
              result.status = Number(headers[":status"]);
            });
            stream.on("data", (chunk: string) => result.body += chunk);
            stream.on("end", () => resolve(result));
            stream.on("error", (error: Error) => {
              result.error = error.message;
              resolve(result);
            });
            stream.on("close", () => resolve(result));
          },
        ),
        5_000,
        `GET ${path} over HTTP/2`,
      );
    try {
      assert.deepEqual(await get("/ssekit"), {
        status: 200,
        body: ":\ndata: hi\n\n",
      });
      const hono = await get("/hono");
      assert.notEqual(hono.body, "data: hi\n\n", JSON.stringify(hono));
      assert.ok(hono.error !== undefined || hono.status !== 200);
    } finally {
      session.destroy();
      await child.stop();
    }
  });

  test("Fastify 5's request.signal aborts once a POST's body is read: a stream given it ends at once", async () => {
    const events = async function* () {
      for (const data of ["one", "two"]) {
        yield { data };
        await sleep(10);
      }
    };
    const app = Fastify();
    app.post(
      "/signal",
      (request) => createSSEStream(events(), { signal: request.signal }),
    );
    app.post("/no-signal", () => createSSEStream(events()));
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as { port: number };
    try {
      const post = async (path: string) => {
        const client = new RawClient(`http://127.0.0.1:${port}${path}`, {
          "content-type": "application/json",
        }, { method: "POST", body: "{}" });
        await within(client.ended, 5_000, `POST ${path}`);
        client.close();
        return client.body;
      };
      assert.equal(await post("/no-signal"), ":\ndata: one\n\ndata: two\n\n");
      assert.equal(await post("/signal"), ":\n");
    } finally {
      app.server.closeAllConnections();
      await app.close();
    }
  });
});

test("ssekit/node takes the runtime's own Response after @hono/node-server replaced globalThis.Response", async () => {
  const { Request: NativeRequest, Response: NativeResponse } = globalThis;
  // Its default (overrideGlobalObjects): lighter Request and Response
  // classes, of which the runtime's own are not instances.
  const hono = honoServe({
    fetch: () => new Response("hono"),
    port: 0,
    hostname: "127.0.0.1",
  });
  try {
    assert.notEqual(globalThis.Response, NativeResponse);
    // What fetch() returns, as a proxying handler passes it on.
    const handler = () => new NativeResponse("made by the runtime");
    await withServer("node:http", handler, async (url) => {
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "made by the runtime");
    });
  } finally {
    hono.close();
    // Under `bun test`, the test files after this one share its globals.
    Object.defineProperty(globalThis, "Request", { value: NativeRequest });
    Object.defineProperty(globalThis, "Response", { value: NativeResponse });
  }
});

test("Hono's streamSSE sends no keep-alive: Bun.serve cuts its stream after 10 s of silence, not createSSEStream's", async () => {
  const { hono, ssekit } = quiet!;
  let honoEnded = false;
  hono.ended.then(() => honoEnded = true);
  await within(ssekit.ended, 20_000, "the quiet createSSEStream stream");
  assert.match(ssekit.body, /^:\ndata: first\n\n(:\n)+data: late\n\n$/);
  await within(hono.closed, 5_000, "the quiet streamSSE stream's end");
  assert.equal(hono.body, "data: first\n\n");
  assert.equal(honoEnded, false, "cut, not ended");
});
