// Express 5, through ssekit/node's toNodeListener: a handler gets the
// Request (its signal aborts when the client leaves) and Express's req and
// res (req.params, and req.body as express.json() parsed it).
//
//   node examples/express/server.ts [--port=8000]   (Node >= 22.18; or deno run -A, bun)
//
// then the curl lines of examples/recipe.ts.
import type { Server } from "node:http";
import express from "express";
import { createSSEStream, relaySSE } from "../../mod.ts"; // "ssekit"
import { toNodeListener } from "../../src/node.ts"; // "ssekit/node"
import { completionRequest } from "../openai_relay.ts";
import {
  createRecipe,
  type RecipeOptions,
  relayToken,
  runAlone,
  type Started,
  TOKEN,
} from "../recipe.ts";

interface Topic {
  topic: string;
}

export async function start(options: RecipeOptions = {}): Promise<Started> {
  const recipe = await createRecipe(options);
  const { hub } = recipe;
  const app = express();
  app.use(express.json());
  // What the cors package does for a simple request.
  app.use((_req, res, next) => {
    res.setHeader("access-control-allow-origin", "*");
    next();
  });
  app.post(["/chat", "/relay", "/topics/:topic"], (req, res, next) => {
    if (req.get("authorization") === `Bearer ${TOKEN}`) next();
    else res.sendStatus(401);
  });

  app.post(
    "/chat",
    toNodeListener<express.Request>((request, { req }) =>
      createSSEStream(recipe.reply(req.body.prompt), { signal: request.signal })
    ),
  );
  app.get(
    "/topics/:topic",
    toNodeListener<express.Request<Topic>>((request, { req }) =>
      hub.response(request, req.params.topic)
    ),
  );
  app.post("/topics/:topic", async (req, res) => {
    res.json({ id: await hub.publish(req.params.topic, req.body) });
  });
  app.post(
    "/relay",
    toNodeListener<express.Request>((request, { req }) =>
      relaySSE(
        (signal) => completionRequest(recipe.upstream, req.body.prompt, signal),
        { signal: request.signal, map: relayToken },
      )
    ),
  );
  app.get("/stats", (_req, res) => void res.json(recipe.stats()));

  const { port = 8000, hostname = "127.0.0.1" } = options;
  const server: Server = await new Promise((resolve, reject) => {
    const server = app.listen(port, hostname, (error) => {
      if (error) reject(error);
      else resolve(server);
    });
  });
  const { port: listening } = server.address() as { port: number };
  return {
    url: `http://${hostname}:${listening}/`,
    async close() {
      await recipe.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

if (import.meta.main) await runAlone(start);
