// Hono: the recipe's routes, served by examples/hono/{node,bun,deno}.ts.
// A handler returns ssekit's Response as it is; `c.req.raw` is the Request,
// whose signal aborts when the client leaves.
import { Hono } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { cors } from "hono/cors";
import { createSSEStream, relaySSE } from "../../mod.ts"; // "ssekit"
import { completionRequest } from "../openai_relay.ts";
import { type Recipe, relayToken, TOKEN } from "../recipe.ts";

export function createApp(recipe: Recipe): Hono {
  const { hub } = recipe;
  const auth = bearerAuth({ token: TOKEN });
  return new Hono()
    .use(cors())
    .post("/chat", auth, async (c) => {
      const { prompt } = await c.req.json();
      return createSSEStream(recipe.reply(prompt), {
        signal: c.req.raw.signal,
      });
    })
    .get("/topics/:topic", (c) => hub.response(c.req.raw, c.req.param("topic")))
    .post(
      "/topics/:topic",
      auth,
      async (c) =>
        c.json({
          id: await hub.publish(c.req.param("topic"), await c.req.json()),
        }),
    )
    .post("/relay", auth, async (c) => {
      const { prompt } = await c.req.json();
      return relaySSE(
        (signal) => completionRequest(recipe.upstream, prompt, signal),
        { signal: c.req.raw.signal, map: relayToken },
      );
    })
    .get("/stats", (c) => c.json(recipe.stats()));
}
