// The chat demo's server, as one fetch handler that runs unchanged on Deno,
// Bun and Node (see main.ts for how each serves it):
//
//   GET  /                     the page (page.ts)
//   GET  /ssekit.js            ssekit bundled for the browser
//   POST /v1/chat/completions  a fake OpenAI-compatible model (no network, no key)
//   POST /chat                 starts a reply: hub.relay from that upstream,
//                              over real HTTP, into a topic of its own
//   GET  /chat?topic=…         follows a reply (resumes with Last-Event-ID)
//   POST /chat/stop            stops a reply (hub.abort), from any tab
//   GET  /feed                 a hub topic: server activity, for EventSource
//   POST /feed/cut             ends every open /feed response, server-side
//   GET  /stats                counters the page and the tests read
//   GET  /metrics              sseMetrics() of the hub's streams, as JSON
import { createHub, sseMetrics } from "../../mod.ts";
import type { Hub, HubStore } from "../../mod.ts";
import { completionRequest, fakeOpenAI, tokenOf } from "../openai_relay.ts";
import { PAGE } from "./page.ts";

/** Options for {@linkcode createDemoApp}. */
export interface DemoAppOptions {
  /** ssekit as one browser ES module, served at /ssekit.js. */
  clientScript: string;
  /**
   * This server's own origin, e.g. `http://127.0.0.1:8000`, for the relay's
   * upstream requests: known once it listens, hence a function. Not taken
   * from the request's Host header, which a client could point anywhere.
   */
  origin: () => string;
  /** Milliseconds between the fake model's tokens. @default {45} */
  tokenDelay?: number;
  /** Milliseconds between the feed's ticks. @default {1000} */
  tickInterval?: number;
  /** The hub's store, e.g. a Redis store. @default {memoryStore()} */
  store?: HubStore;
}

/** What the demo server counts, served as JSON at /stats. */
export interface DemoStats {
  /** Upstream replies being generated right now. */
  activeReplies: number;
  /** Upstream replies that ended because the client left first. */
  cancelledReplies: number;
  /** Open /feed responses. */
  feedConnections: number;
  /** Times /feed/cut ended open responses. */
  cuts: number;
}

/** The demo's handler, and a way to stop its ticker and hub. */
export interface DemoApp {
  fetch(request: Request): Promise<Response>;
  close(): Promise<void>;
}

const FEED = "activity";

// Only the topics POST /chat makes can be followed or stopped.
function chatTopic(topic: string | null): string {
  if (!topic?.startsWith("chat:")) {
    throw new TypeError(`Invalid chat topic: ${JSON.stringify(topic)}`);
  }
  return topic;
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), {
    status,
    headers: {
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
    },
  });

/** Builds the demo server's handler. */
export function createDemoApp(options: DemoAppOptions): DemoApp {
  const { clientScript, origin, tokenDelay = 45, tickInterval = 1000 } =
    options;
  // Every stream of the hub (chat followers, the feed) and the relays'
  // store report to these counters; the page shows them live.
  const metrics = sseMetrics();
  const hub: Hub = createHub({ store: options.store, hooks: metrics.hooks });
  const stats: DemoStats = {
    activeReplies: 0,
    cancelledReplies: 0,
    feedConnections: 0,
    cuts: 0,
  };
  // The feed's own sequence number lets the page check, independently of
  // the hub's ids, that a resumed EventSource missed nothing.
  let seq = 0;
  const announce = (kind: string, text: string) =>
    hub.publish(FEED, {
      event: kind,
      data: { seq: ++seq, text, time: Date.now() },
    })
      .catch(() => {}); // after close() there is nobody left to tell
  const ticker = setInterval(() => {
    announce(
      "tick",
      `${stats.activeReplies} replies streaming, ${stats.feedConnections} feed connections`,
    );
  }, tickInterval);
  const cutters = new Set<AbortController>();
  let chats = 0;

  async function handle(request: Request): Promise<Response> {
    try {
      return await answer(request);
    } catch (error) {
      if (error instanceof TypeError) {
        return json({ error: error.message }, 400);
      }
      throw error;
    }
  }

  async function answer(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    switch (route) {
      case "GET /":
        return new Response(PAGE, {
          headers: { "Content-Type": "text/html; charset=utf-8" },
        });
      case "GET /ssekit.js":
        return new Response(clientScript, {
          headers: { "Content-Type": "text/javascript; charset=utf-8" },
        });
      case "POST /v1/chat/completions": {
        const chat = ++chats;
        return fakeOpenAI(request, {
          delay: tokenDelay,
          // Counted from inside the reply's generator, which a request
          // aborted before it streams never starts.
          onStart() {
            stats.activeReplies++;
            announce("chat", `chat #${chat}: upstream started`);
          },
          onEnd({ sent, total, completed }) {
            stats.activeReplies--;
            if (!completed) stats.cancelledReplies++;
            announce(
              "chat",
              completed
                ? `chat #${chat}: upstream finished, ${total} tokens`
                : `chat #${chat}: stopped by the client after ${sent} of ${total} tokens; upstream cancelled`,
            );
          },
        });
      }
      case "POST /chat": {
        // A reply of its own: it runs to its end whoever follows it, and
        // its upstream is reached over real HTTP, as a remote API would be.
        const { prompt } = await request.json() as { prompt: string };
        const topic = `chat:${crypto.randomUUID()}`;
        const { start } = await hub.relay(
          topic,
          (signal) =>
            completionRequest(
              `${origin()}/v1/chat/completions`,
              prompt,
              signal,
            ),
          {
            timeout: 120_000,
            map: (message) => {
              const token = tokenOf(message);
              return token ? { event: "token", data: token } : undefined;
            },
          },
        );
        // Following from `start`, the page gets the whole reply, however
        // many tokens went out before its GET arrived.
        return json({ topic, start });
      }
      case "GET /chat":
        // An unknown or expired reply is a 404, not a wait.
        return hub.response(request, chatTopic(url.searchParams.get("topic")), {
          missing: "404",
          retry: 500,
        });
      case "POST /chat/stop": {
        const { topic } = await request.json() as { topic: string };
        return json({ stopped: await hub.abort(chatTopic(topic)) });
      }
      case "GET /feed": {
        const cut = new AbortController();
        cutters.add(cut);
        stats.feedConnections++;
        const signal = AbortSignal.any([request.signal, cut.signal]);
        signal.addEventListener("abort", () => {
          cutters.delete(cut);
          stats.feedConnections--;
        }, { once: true });
        return hub.response(request, FEED, { signal, retry: 500 });
      }
      case "POST /feed/cut": {
        const count = cutters.size;
        if (count > 0) stats.cuts++;
        for (const cut of cutters) cut.abort();
        await announce("cut", `cut ${count} feed connection(s) server-side`);
        return json({ cut: count });
      }
      case "GET /stats":
        return json(stats);
      case "GET /metrics":
        return json(metrics.snapshot());
    }
    return json({ error: `no route for ${route}` }, 404);
  }

  return {
    fetch: handle,
    async close() {
      clearInterval(ticker);
      for (const cut of cutters) cut.abort();
      await hub.close();
    },
  };
}
