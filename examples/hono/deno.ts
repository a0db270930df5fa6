// Hono on Deno, through Deno.serve:
//
//   deno run -A examples/hono/deno.ts [--port=8000]
//
// then the curl lines of examples/recipe.ts.
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
  const server = Deno.serve(
    { port, hostname, onListen() {} },
    createApp(recipe).fetch,
  );
  return {
    url: `http://${hostname}:${server.addr.port}/`,
    async close() {
      await recipe.close();
      await server.shutdown();
    },
  };
}

if (import.meta.main) await runAlone(start);
