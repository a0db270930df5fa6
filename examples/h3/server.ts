// h3 2: a handler returns ssekit's Response as it is; `event.req` is the
// Request, whose signal aborts when the client leaves. h3's serve() starts
// the runtime's own server (node:http, Deno.serve or Bun.serve, via srvx).
//
//   node examples/h3/server.ts [--port=8000]   (Node >= 22.18; or deno run -A, bun)
//
// then the curl lines of examples/recipe.ts.
import { getRouterParam, H3, handleCors, HTTPError, serve } from "h3";
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

interface Chat {
  prompt: string;
}

export async function start(options: RecipeOptions = {}): Promise<Started> {
  const recipe = await createRecipe(options);
  const { hub } = recipe;
  const auth = (event: { req: Request }) => {
    if (event.req.headers.get("authorization") !== `Bearer ${TOKEN}`) {
      throw new HTTPError({ status: 401 });
    }
  };

  const app = new H3()
    .use((event) => handleCors(event, { origin: "*" }) || undefined)
    .post("/chat", async (event) => {
      const { prompt } = await event.req.json() as Chat;
      return createSSEStream(recipe.reply(prompt), {
        signal: event.req.signal,
      });
    }, { middleware: [auth] })
    .get(
      "/topics/:topic",
      (event) => hub.response(event.req, getRouterParam(event, "topic")!),
    )
    .post("/topics/:topic", async (event) => ({
      id: await hub.publish(
        getRouterParam(event, "topic")!,
        await event.req.json(),
      ),
    }), { middleware: [auth] })
    .post("/relay", async (event) => {
      const { prompt } = await event.req.json() as Chat;
      return relaySSE(
        (signal) => completionRequest(recipe.upstream, prompt, signal),
        { signal: event.req.signal, map: relayToken },
      );
    }, { middleware: [auth] })
    .get("/stats", () => recipe.stats());

  const { port = 8000, hostname = "127.0.0.1" } = options;
  // runAlone closes the hub too on Ctrl-C; srvx's own handler would leave
  // the process running.
  const server = serve(app, {
    port,
    hostname,
    silent: true,
    gracefulShutdown: false,
  });
  await server.ready();
  return {
    url: server.url!,
    async close() {
      await recipe.close();
      await server.close(true);
    },
  };
}

if (import.meta.main) await runAlone(start);
