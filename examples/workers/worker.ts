// Cloudflare Workers: the recipe's routes (see examples/recipe.ts) as a
// Worker, with the hub in a Durable Object whose storage keeps each topic's
// history, so Last-Event-ID resumes exactly across evictions and deploys:
//
//   npx wrangler dev examples/workers/worker.ts   (wrangler.jsonc beside it)
//
// then the curl lines of examples/recipe.ts. The Worker streams /chat and
// /relay itself; every /topics request goes to the one `Topics` object
// (shard with idFromName(topic) when one object is not enough). The tests
// run it in workerd (tests/workerd/_recipe.ts).
import {
  createHub,
  createSSEStream,
  type Hub,
  relaySSE,
  type SSEEvent,
} from "../../mod.ts"; // "ssekit"
import {
  type DurableObjectStorageLike,
  durableObjectStore,
} from "../../src/durable_object.ts"; // "ssekit/durable-object"
import { completionRequest } from "../openai_relay.ts";
import { createReplies, relayToken } from "../replies.ts";

// What the Worker uses of @cloudflare/workers-types, declared here.
interface DurableObjectNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(request: Request): Promise<Response> };
}
interface Env {
  TOPICS: DurableObjectNamespace;
  /** The OpenAI-compatible chat completions URL /relay reads (a var). */
  UPSTREAM: string;
}

/** The bearer token the recipe accepts; yours checks a real one. */
const TOKEN = "secret";

/** The hub: publishes and subscriptions of every topic meet here. */
export class Topics {
  hub: Hub;

  constructor(ctx: { storage: DurableObjectStorageLike }) {
    this.hub = createHub({ store: durableObjectStore(ctx.storage) });
  }

  async fetch(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/stats") return Response.json(this.hub.stats());
    const topic = decodeURIComponent(pathname.slice("/topics/".length));
    if (request.method === "POST") {
      const event = await request.json() as SSEEvent;
      return Response.json({ id: await this.hub.publish(topic, event) });
    }
    return this.hub.response(request, topic);
  }
}

// Token streams started, ended (their `finally` ran), and run to the end,
// in this isolate: what GET /stats shows.
const replies = createReplies();

interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

async function route(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
): Promise<Response> {
  const { pathname } = new URL(request.url);
  const topics = () => env.TOPICS.get(env.TOPICS.idFromName("topics"));
  if (request.method === "OPTIONS") return new Response(null, { status: 204 });
  if (request.method === "GET" && pathname.startsWith("/topics/")) {
    return topics().fetch(request);
  }
  if (request.method === "GET" && pathname === "/stats") {
    const { subscribers } = await (await topics().fetch(request)).json() as {
      subscribers: number;
    };
    return Response.json({ replies: replies.counts, subscribers });
  }
  if (request.method !== "POST") return new Response(null, { status: 404 });
  if (request.headers.get("authorization") !== `Bearer ${TOKEN}`) {
    return new Response("Unauthorized", { status: 401 });
  }
  if (pathname.startsWith("/topics/")) return topics().fetch(request);
  const { prompt } = await request.json() as { prompt: string };
  if (pathname === "/chat") {
    // The invocation ends when the client leaves, and with it every timer
    // and promise it still awaits: waitUntil keeps it until the producer's
    // `finally` has run.
    let finished!: () => void;
    ctx.waitUntil(new Promise<void>((resolve) => finished = resolve));
    return createSSEStream(replies.reply(prompt, finished));
  }
  if (pathname === "/relay") {
    return relaySSE(
      (signal) => completionRequest(env.UPSTREAM, prompt, signal),
      { map: relayToken },
    );
  }
  return new Response(null, { status: 404 });
}

export default {
  async fetch(
    request: Request,
    env: Env,
    ctx: ExecutionContext,
  ): Promise<Response> {
    const response = await route(request, env, ctx);
    // CORS on every response, streams passed through as they are.
    const headers = new Headers(response.headers);
    headers.set("access-control-allow-origin", "*");
    if (request.method === "OPTIONS") {
      headers.set(
        "access-control-allow-headers",
        "authorization, content-type, last-event-id",
      );
      headers.set("access-control-allow-methods", "GET, POST");
    }
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  },
};
