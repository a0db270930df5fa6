// A hub server for the EventSource browser tests, as its own process on any
// runtime: `deno run -A tests/browser/_es_server.ts`, `bun
// tests/browser/_es_server.ts`, or `node .build/tests/browser/_es_server.js`.
// Options: `--port=N` (default: a free port; the restart test needs the same
// one again), `--retry=MS`, the reconnection delay every stream asks for
// (default 150, so that tests are quick), and `--redis-prefix=P`, which puts
// the hub on Redis at SSEKIT_REDIS_URL so that instances share one history.
// Prints its URL, then serves until stdin closes:
//
//   GET  /                    a blank page, so EventSource is same-origin
//   GET  /events?topic=       the hub's stream
//   GET  /once?events=        streams the JSON array of events, then ends;
//                             a reconnect (it has Last-Event-ID) gets 204
//   POST /publish?topic=      publishes a JSON array of events, answers ids
//   POST /publisher/start?topic=&every=   publishes "tick" events steadily
//   POST /publisher/stop      stops it, answers every id it published
//   POST /cut?how=end|error   cuts every open /events stream server-side
//   GET  /log                 the requests to /events and /once, with their
//                             Last-Event-ID headers
import process from "node:process";
import { parseArgs } from "node:util";
import { createHub } from "../../src/hub.ts";
import { createSSEStream } from "../../src/stream.ts";
import { getLastEventId } from "../../src/last_event_id.ts";
import { redisStore } from "../../src/redis.ts";
import type { SSEEvent } from "../../src/types.ts";
import { serve } from "../support/server.ts";
import { sleep } from "../support/time.ts";
import { exitWhenStdinCloses } from "../support/stdin.ts";

export interface LogEntry {
  path: string;
  /** The header as the server read it, or null when there was none. */
  header: string | null;
  /** The id getLastEventId makes of it. */
  lastEventId: string;
}

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    retry: { type: "string", default: "150" },
    "redis-prefix": { type: "string" },
  },
});
const retry = Number(values.retry);
const prefix = values["redis-prefix"];
const hub = createHub(
  prefix === undefined ? {} : {
    store: redisStore({ redis: process.env.SSEKIT_REDIS_URL, prefix }),
  },
);

const log: LogEntry[] = [];
// One per open /events stream: ends it cleanly or errors it mid-body.
const cuts = new Set<(how: string) => void>();
let publisher: { stop(): Promise<string[]> } | undefined;

const events = async (request: Request, topic: string): Promise<Response> => {
  const ender = new AbortController();
  const response = await hub.response(request, topic, {
    signal: AbortSignal.any([request.signal, ender.signal]),
    retry,
  });
  let fail!: (reason: unknown) => void;
  // Erroring the body makes the server drop the connection mid-response,
  // as a crash or a network fault would; the pipe then cancels the hub's
  // stream, which ends the subscription.
  const body = response.body!.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      start(controller) {
        fail = (reason) => controller.error(reason);
      },
    }),
  );
  const cut = (how: string) => {
    if (how === "error") fail("cut by the test (expected)");
    else ender.abort();
  };
  cuts.add(cut);
  request.signal.addEventListener("abort", () => cuts.delete(cut));
  return new Response(body, response);
};

const steady = (topic: string, every: number) => {
  const ids: string[] = [];
  let running = true;
  const loop = (async () => {
    for (let n = 0; running; n++) {
      ids.push(await hub.publish(topic, { event: "tick", data: String(n) }));
      await sleep(every);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return ids;
    },
  };
};

const handler = async (request: Request): Promise<Response> => {
  const url = new URL(request.url);
  const topic = url.searchParams.get("topic") ?? "t";
  const route = `${request.method} ${url.pathname}`;
  if (route === "GET /events" || route === "GET /once") {
    log.push({
      path: url.pathname + url.search,
      header: request.headers.get("last-event-id"),
      lastEventId: getLastEventId(request),
    });
  }
  switch (route) {
    case "GET /":
      return new Response(
        "<!doctype html><meta charset=utf-8><title>ssekit</title>",
        { headers: { "content-type": "text/html; charset=utf-8" } },
      );
    case "GET /events":
      return events(request, topic);
    case "GET /once":
      // EventSource only sends Last-Event-ID when it reconnects.
      if (request.headers.has("last-event-id")) {
        return new Response(null, { status: 204 });
      }
      return createSSEStream(
        JSON.parse(url.searchParams.get("events") ?? "[]") as SSEEvent[],
        { signal: request.signal, retry },
      );
    case "POST /publish": {
      const ids = [];
      for (const event of await request.json() as SSEEvent[]) {
        ids.push(await hub.publish(topic, event));
      }
      return Response.json(ids);
    }
    case "POST /publisher/start":
      await publisher?.stop();
      publisher = steady(topic, Number(url.searchParams.get("every") ?? 20));
      return new Response(null, { status: 204 });
    case "POST /publisher/stop": {
      const ids = await publisher?.stop() ?? [];
      publisher = undefined;
      return Response.json(ids);
    }
    case "POST /cut": {
      const how = url.searchParams.get("how") ?? "end";
      const count = cuts.size;
      for (const cut of cuts) cut(how);
      cuts.clear();
      return Response.json(count);
    }
    case "GET /log":
      return Response.json(log);
    default:
      return new Response("Not Found", { status: 404 });
  }
};

const server = await serve(handler, undefined, Number(values.port));
console.log(server.url);

exitWhenStdinCloses(
  () => publisher?.stop(),
  () => hub.close(),
  () => server.close(),
);
