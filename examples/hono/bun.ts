// Hono on Bun, through Bun.serve:
//
//   bun examples/hono/bun.ts [--port=8000]
//
// then the curl lines of examples/recipe.ts.
import {
  createRecipe,
  type RecipeOptions,
  runAlone,
  type Started,
} from "../recipe.ts";
import { createApp } from "./app.ts";

// Declared by Bun's own types (bun-types); here, so that Deno's and tsc's
// checks of this repository know it too.
declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch: (request: Request) => Response | Promise<Response>;
  }): { url: URL; stop(closeActiveConnections?: boolean): Promise<void> };
};

export async function start(options: RecipeOptions = {}): Promise<Started> {
  const recipe = await createRecipe(options);
  const { port = 8000, hostname = "127.0.0.1" } = options;
  const server = Bun.serve({ port, hostname, fetch: createApp(recipe).fetch });
  return {
    url: server.url.href,
    async close() {
      await recipe.close();
      await server.stop(true);
    },
  };
}

if (import.meta.main) await runAlone(start);
