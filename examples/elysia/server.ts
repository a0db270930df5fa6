// Elysia on Bun: a handler returns ssekit's Response as it is; the context's
// `request` is the Request, whose signal aborts when the client leaves.
//
//   bun examples/elysia/server.ts [--port=8000]
//
// then the curl lines of examples/recipe.ts.
import { Elysia, t } from "elysia";
import { createSSEStream, relaySSE } from "../../mod.ts"; // "ssekit"
import { completionRequest } from "../openai_relay.ts";
import {
  createRecipe,
  type RecipeOptions,
  relayToken,
  runAlone,
  type Started,
  TOKEN,
} from "../recipe.ts";

const chat = { body: t.Object({ prompt: t.String() }) };

export async function start(options: RecipeOptions = {}): Promise<Started> {
  const recipe = await createRecipe(options);
  const { hub } = recipe;
  const { port = 8000, hostname = "127.0.0.1" } = options;

  const app = new Elysia()
    // What @elysiajs/cors does for a simple request.
    .onRequest(({ set }) => {
      set.headers["access-control-allow-origin"] = "*";
    })
    .get(
      "/topics/:topic",
      ({ request, params }) => hub.response(request, params.topic),
    )
    .get("/stats", () => recipe.stats())
    .guard({
      beforeHandle: ({ headers, status }) =>
        headers.authorization === `Bearer ${TOKEN}` ? undefined : status(401),
    }, (app) =>
      app
        .post("/chat", ({ body, request }) =>
          createSSEStream(recipe.reply(body.prompt), {
            signal: request.signal,
          }), chat)
        .post("/topics/:topic", async ({ body, params }) => ({
          id: await hub.publish(params.topic, body),
        }), {
          body: t.Object({ event: t.Optional(t.String()), data: t.Any() }),
        })
        .post("/relay", ({ body, request }) =>
          relaySSE(
            (signal) =>
              completionRequest(recipe.upstream, body.prompt, signal),
            { signal: request.signal, map: relayToken },
          ), chat))
    .listen({ port, hostname });
  return {
    url: app.server!.url.href,
    async close() {
      await recipe.close();
      await app.stop(true);
    },
  };
}

if (import.meta.main) await runAlone(start);
