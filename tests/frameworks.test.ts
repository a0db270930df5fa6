// The framework recipes of examples/<framework>/, each started as its users
// start it, on the framework's own server and in a process of its own (the
// Bun and Deno ones by their documented command), checked over real sockets: the token
// stream and the relay arrive byte for byte, a client that leaves reaches
// the producer's `finally` (or the upstream's) within 1 s, and a hub topic
// resumes after Last-Event-ID with exactly what was missed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { formatEvent, type SSEEvent } from "../mod.ts";
import { fakeOpenAI, fakeReply } from "../examples/openai_relay.ts";
import type { RecipeStats } from "../examples/recipe.ts";
import { type Child, root, spawnChild, spawnScript } from "./_child.ts";
import { RawClient } from "./_client.ts";
import { serve, type TestServer } from "./_server.ts";
import { until } from "./_util.ts";

interface Recipe {
  name: string;
  /** Served by tests/_recipe_server.ts, on the runtime running the tests. */
  script?: string;
  /** Or run as its comment says: the runtime and the example's file. */
  command?: ["bun" | "deno", string];
}

const recipes: Recipe[] = [
  { name: "Express 5", script: "express" },
  { name: "Fastify 5", script: "fastify" },
  { name: "h3 2", script: "h3" },
  { name: "Hono on Node (@hono/node-server)", script: "hono-node" },
  { name: "Hono on Bun", command: ["bun", "examples/hono/bun.ts"] },
  { name: "Hono on Deno", command: ["deno", "examples/hono/deno.ts"] },
  { name: "Elysia on Bun", command: ["bun", "examples/elysia/server.ts"] },
];

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
  if (recipe.script) {
    return spawnScript("_recipe_server", {
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

before(async () => {
  upstream = await serve(
    (request) =>
      fakeOpenAI(request, { delay: 5, onEnd: (end) => upstreamEnds.push(end) }),
    "node:http",
  );
});
after(() => upstream.close());

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
    const post = (path: string, body: object, headers = AUTH) =>
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
      const refused = post("/chat", { prompt: PROMPT }, {} as typeof AUTH);
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
      await until(
        stats,
        (now) => now.subscribers === 0,
        "the subscription's end",
        1_000,
      );

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
