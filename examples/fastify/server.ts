// Fastify 5: a handler returns ssekit's Response as it is. Fastify sends its
// status, headers and body, and cancels the body when the client leaves,
// which stops the producer. Not `request.signal` for a POST: Fastify 5.12
// aborts it as soon as the request's body has been read (fastify#6725).
//
//   node examples/fastify/server.ts [--port=8000]   (Node >= 22.18; or deno run -A, bun)
//
// then the curl lines of examples/recipe.ts.
import Fastify, {
  type FastifyRequest,
  type onRequestHookHandler,
} from "fastify";
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
  Body: { prompt: string };
}
interface Topic {
  Params: { topic: string };
  Body: { event?: string; data: unknown };
}

// hub.response reads Last-Event-ID (or ?lastEventId=) and the signal from a
// fetch Request, which Fastify does not make.
const toRequest = (request: FastifyRequest) =>
  new Request(new URL(request.url, `http://${request.host}`), {
    headers: request.headers as Record<string, string>,
    signal: request.signal,
  });

export async function start(options: RecipeOptions = {}): Promise<Started> {
  const recipe = await createRecipe(options);
  const { hub } = recipe;
  const auth: onRequestHookHandler = (request, reply, done) => {
    if (request.headers.authorization === `Bearer ${TOKEN}`) done();
    else reply.code(401).send();
  };

  const app = Fastify();
  // What @fastify/cors does for a simple request.
  app.addHook("onRequest", (_request, reply, done) => {
    reply.header("access-control-allow-origin", "*");
    done();
  });
  app.post<Chat>(
    "/chat",
    { onRequest: auth },
    (request) => createSSEStream(recipe.reply(request.body.prompt)),
  );
  app.get<Topic>(
    "/topics/:topic",
    (request) => hub.response(toRequest(request), request.params.topic),
  );
  app.post<Topic>("/topics/:topic", { onRequest: auth }, async (request) => ({
    id: await hub.publish(request.params.topic, request.body),
  }));
  app.post<Chat>("/relay", { onRequest: auth }, (request) =>
    relaySSE(
      (signal) =>
        completionRequest(recipe.upstream, request.body.prompt, signal),
      { map: relayToken },
    ));
  app.get("/stats", () => recipe.stats());

  const { port = 8000, hostname = "127.0.0.1" } = options;
  await app.listen({ port, host: hostname });
  const { port: listening } = app.server.address() as { port: number };
  return {
    url: `http://${hostname}:${listening}/`,
    async close() {
      await recipe.close();
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

if (import.meta.main) await runAlone(start);
