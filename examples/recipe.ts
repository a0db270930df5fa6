// What the framework recipes (examples/<framework>/) share, so that each of
// them holds only what its framework changes. Every recipe serves:
//
//   POST /chat {"prompt"}       a token stream (bearer auth)
//   GET  /topics/:topic         a hub topic; Last-Event-ID resumes it exactly
//   POST /topics/:topic {event} publishes an event to it (bearer auth)
//   POST /relay {"prompt"}      an OpenAI-compatible upstream, relayed (bearer auth)
//   GET  /stats                 token streams started and finished, hub subscribers
//
// and sends CORS headers on every response. Try one with curl:
//
//   curl -N localhost:8000/chat -H 'authorization: Bearer secret' \
//     -H 'content-type: application/json' -d '{"prompt":"hello"}'
//   curl -N localhost:8000/topics/news              # in one terminal
//   curl localhost:8000/topics/news -H 'authorization: Bearer secret' \
//     -H 'content-type: application/json' -d '{"data":"hi"}'
//   curl -N localhost:8000/topics/news -H 'last-event-id: 1'   # resume after 1
import process from "node:process";
import { createHub, type Hub, type SSEEvent } from "../mod.ts"; // "ssekit" in your project
import { serve } from "../src/node.ts"; // "ssekit/node"
import { fakeOpenAI } from "./openai_relay.ts";
import { createReplies } from "./replies.ts";

export { relayToken } from "./replies.ts";

/** The bearer token the recipes' auth accepts; yours checks a real one. */
export const TOKEN = "secret";

/** Where a recipe listens, and what it relays. */
export interface RecipeOptions {
  /** @default {8000} */
  port?: number;
  /** @default {"127.0.0.1"} */
  hostname?: string;
  /**
   * The OpenAI-compatible chat completions URL that `/relay` reads. By
   * default a fake model (examples/openai_relay.ts) is started for it.
   */
  upstream?: string;
}

/** A recipe that listens. */
export interface Started {
  /** Its root URL, e.g. `http://127.0.0.1:8000/`. */
  url: string;
  /** Closes the server, the hub, and the fake model if one was started. */
  close(): Promise<void>;
}

/** `GET /stats`: what the tests watch to see a client's leaving reach the producer. */
export interface RecipeStats {
  /**
   * Token streams whose generator started, whose `finally` ran, and which
   * ran to their end (the others were stopped by the client's leaving).
   */
  replies: { started: number; finished: number; completed: number };
  /** Open hub subscriptions. */
  subscribers: number;
}

/** The framework-independent half of a recipe. */
export interface Recipe {
  hub: Hub;
  /** The chat completions URL that `/relay` reads. */
  upstream: string;
  /** A reply to `prompt`, a token event at a time, then `event: done`. */
  reply(prompt: string): AsyncGenerator<SSEEvent>;
  stats(): RecipeStats;
  close(): Promise<void>;
}

/** Makes a hub, the token producer, and (unless given one) a fake upstream. */
export async function createRecipe(
  { upstream }: RecipeOptions = {},
): Promise<Recipe> {
  const hub = createHub();
  const replies = createReplies();
  const fake = upstream === undefined
    ? await serve((request) => fakeOpenAI(request), {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
    })
    : undefined;
  return {
    hub,
    upstream: upstream ?? new URL("/v1/chat/completions", fake!.url).href,
    reply: (prompt) => replies.reply(prompt),
    stats: () => ({
      replies: { ...replies.counts },
      subscribers: hub.stats().subscribers,
    }),
    async close() {
      await hub.close();
      if (fake) {
        fake.server.closeAllConnections();
        await fake.close();
      }
    },
  };
}

/**
 * Runs a recipe by itself: `--port=N --hostname=H --upstream=URL` from the
 * command line, a line saying where it listens, and on Ctrl-C (or SIGTERM)
 * everything closed before the process exits.
 */
export async function runAlone(
  start: (options: RecipeOptions) => Promise<Started>,
): Promise<void> {
  const option = (name: string) =>
    process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(
      name.length + 3,
    );
  const server = await start({
    port: Number(option("port") ?? 8000),
    hostname: option("hostname"),
    upstream: option("upstream"),
  });
  console.log(`Listening on ${server.url}`);
  const stop = () => server.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
