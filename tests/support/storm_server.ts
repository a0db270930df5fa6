// A server for the disconnect-storm test, as its own process, so that a
// crash or an unhandled rejection ends it where the test can see it. It
// serves, with no error handler of its own:
//   /stream  createSSEStream of an endless producer that bursts and waits
//   /relay   relaySSE of this server's own /stream
//   /hub     hub.response of a topic a publisher floods
//   /stats   JSON: producers and relays still running, hub subscribers
// on the server SSEKIT_SERVER names (deno, bun, node:http), until stdin
// closes. Run with `deno run -A`, `bun` or `node` (compiled).
import process from "node:process";
import { createHub, createSSEStream, relaySSE } from "../../mod.ts";
import { serve, type ServerKind } from "./server.ts";
import { sleep } from "./time.ts";
import { exitWhenStdinCloses } from "./stdin.ts";

// Ends the process where a runtime would only log it, so the test sees it.
process.on("unhandledRejection", (reason) => {
  console.error("storm server: unhandled rejection:", reason);
  process.exit(70);
});

const hub = createHub({ history: { max: 100 } });
let producers = 0;
let relays = 0;
let published = 0;

async function* endless(signal: AbortSignal) {
  producers++;
  try {
    for (let i = 0; !signal.aborted; i++) {
      yield { id: i, data: "x".repeat(200) };
      // Bursts that fill the socket, and pauses that let it drain.
      if (i % 50 === 49) await sleep(2);
    }
  } finally {
    producers--;
  }
}

const publisher = setInterval(() => {
  for (let i = 0; i < 20; i++) {
    hub.publish("t", `${"y".repeat(200)}${++published}`);
  }
}, 2);

let base = "";
const server = await serve((request) => {
  const { pathname } = new URL(request.url);
  switch (pathname) {
    case "/stream":
      return createSSEStream(endless, { signal: request.signal });
    case "/relay":
      return relaySSE(async (signal) => {
        relays++;
        try {
          return await fetch(`${base}stream`, { signal });
        } finally {
          signal.addEventListener("abort", () => relays--, { once: true });
          if (signal.aborted) relays--;
        }
      }, { signal: request.signal });
    case "/hub":
      return hub.response(request, "t");
    case "/stats":
      return Response.json({
        producers,
        relays,
        subscribers: hub.stats().subscribers,
      });
  }
  return new Response("not found", { status: 404 });
}, (process.env.SSEKIT_SERVER ?? undefined) as ServerKind | undefined);
base = server.url;
console.log(server.url);

exitWhenStdinCloses(
  () => clearInterval(publisher),
  () => hub.close(),
  () => server.close(),
);
