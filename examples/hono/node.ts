// Hono on Node, through @hono/node-server:
//
//   node examples/hono/node.ts [--port=8000]   (Node >= 22.18; or deno run -A, bun)
//
// then the curl lines of examples/recipe.ts.
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import {
  createRecipe,
  type RecipeOptions,
  runAlone,
  type Started,
} from "../recipe.ts";
import { createApp } from "./app.ts";

export async function start(options: RecipeOptions = {}): Promise<Started> {
  const recipe = await createRecipe(options);
  const { port = 8000, hostname = "127.0.0.1" } = options;
  let server!: Server;
  const listening = await new Promise<number>((resolve) => {
    server = serve(
      { fetch: createApp(recipe).fetch, port, hostname },
      (info) => resolve(info.port),
    ) as Server;
  });
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
