// createSSEStream behind a real nginx with its default buffering on: the
// shipped docs/nginx.conf, and a bare proxy_pass (nginx's defaults), each in
// front of every server this runtime has. The control, a stream without
// X-Accel-Buffering, shows that the header is what gets the first event
// through. It runs behind the bare proxy_pass because that is where nginx
// holds events: with the shipped config's HTTP/1.1 to the app, nginx 1.22
// passes each complete chunk on even while buffering, so there the header
// guards against what may change (gzip, another nginx version, a config
// that drops HTTP/1.1) rather than against what happens today.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { createSSEStream } from "../mod.ts";
import { ensureNginx, startNginx } from "../scripts/nginx.mjs";
import { RawClient } from "./support/raw_client.ts";
import { serve, serverKinds, type TestServer } from "./support/server.ts";
import { sleep } from "./support/time.ts";

/** How soon the first event must be through nginx. */
const PROMPT_MS = 200;
const EVENTS = 6;
const INTERVAL_MS = 500;

// What a config that says only proxy_pass gets: HTTP/1.0 to the app, whose
// body then has no chunks nginx could pass on one by one, and buffering on.
const BARE_CONFIG = `server {
    listen 80;
    location / {
        proxy_pass http://127.0.0.1:8000;
    }
}
`;

type Nginx = Awaited<ReturnType<typeof startNginx>>;

// One event at once, then one every INTERVAL_MS for 3 s, all far smaller
// than nginx's proxy buffers, which therefore never fill. /control is the
// same stream without X-Accel-Buffering.
// A request for /?gate=N holds every event after the first until the test
// opens gate N, so when the first event arrives, nothing behind it can have
// pushed it out of nginx's buffers: it came through on its own.
const gates = new Map<string, () => void>();
let gateCount = 0;

function gated(name: string | null): Promise<void> | undefined {
  if (name === null) return undefined;
  return new Promise<void>((resolve) => {
    // Bounded, for a test that fails before opening it.
    const timer = setTimeout(resolve, 20_000);
    gates.set(name, () => {
      clearTimeout(timer);
      gates.delete(name);
      resolve();
    });
  });
}

function handler(request: Request): Response {
  const gate = gated(new URL(request.url).searchParams.get("gate"));
  const response = createSSEStream(
    async function* () {
      yield "first";
      await gate;
      for (let i = 1; i <= EVENTS; i++) {
        await sleep(INTERVAL_MS);
        yield `e${i}`;
      }
    }(),
    { signal: request.signal },
  );
  if (new URL(request.url).pathname === "/control") {
    response.headers.delete("x-accel-buffering");
  }
  return response;
}

interface FirstEvent {
  /** Milliseconds from sending the request to the first event's arrival. */
  ms: number;
  /** The body as it was when the first event arrived. */
  body: string;
  client: RawClient;
}

async function firstEvent(url: string): Promise<FirstEvent> {
  const started = performance.now();
  const client = new RawClient(url);
  try {
    const body = await client.waitFor("data: first\n\n", 10_000);
    return { ms: performance.now() - started, body, client };
  } catch (error) {
    client.close();
    throw error;
  }
}

// A few tries: the bound is about buffering, which costs seconds, not about
// a busy machine's scheduling, which costs one unlucky try.
const TRIES = 3;

async function assertStreamsPromptly(url: string): Promise<void> {
  const times: number[] = [];
  let first: FirstEvent;
  let gate: string;
  for (;;) {
    gate = String(++gateCount);
    first = await firstEvent(`${url}?gate=${gate}`);
    times.push(first.ms);
    if (first.ms < PROMPT_MS || times.length === TRIES) break;
    gates.get(gate)?.();
    first.client.close();
  }
  const { client } = first;
  try {
    // The producer is held at the gate: nothing followed the first event.
    assert.equal(first.body, ":\ndata: first\n\n");
    assert.ok(
      first.ms < PROMPT_MS,
      `the first event took ${
        times.map((ms) => ms.toFixed(0)).join(", ")
      } ms through nginx`,
    );
    gates.get(gate)?.();
    const { status, headers } = await client.response;
    assert.equal(status, 200);
    assert.equal(
      headers.get("content-type"),
      "text/event-stream; charset=utf-8",
    );
    // nginx consumes X-Accel-* headers instead of passing them on.
    assert.equal(headers.has("x-accel-buffering"), false);
    // Later events stream too, rather than waiting for the end.
    const body = await client.waitFor("data: e1\n\n", 5_000);
    assert.ok(!body.includes(`data: e${EVENTS}\n\n`), body);
  } finally {
    gates.get(gate)?.();
    client.close();
  }
}

let unavailable: string | undefined;
try {
  ensureNginx();
} catch (error) {
  unavailable = `nginx cannot be installed or run (${
    error instanceof Error ? error.message : String(error)
  })`;
}

if (unavailable !== undefined) {
  if (process.env.CI === "true") {
    test("the nginx tests run under CI", () => assert.fail(unavailable));
  } else {
    console.log(`nginx.test.ts: skipped: ${unavailable}`);
  }
} else {
  for (const kind of serverKinds) {
    describe(`behind nginx: ${kind}`, () => {
      let app: TestServer | undefined;
      let shipped: Nginx | undefined;
      let bare: Nginx | undefined;

      before(async () => {
        app = await serve(handler, kind);
        const upstream = new URL(app.url).host;
        shipped = await startNginx({ upstream });
        bare = await startNginx({ upstream, config: BARE_CONFIG });
        // A runtime's first request can take over 100 ms on a busy machine
        // (lazy loading, cold code); the tests time nginx, not that.
        for (const nginx of [shipped, bare]) {
          (await firstEvent(nginx.url)).client.close();
        }
      });

      after(async () => {
        await Promise.all([shipped?.stop(), bare?.stop()]);
        await app?.close();
      });

      test(`docs/nginx.conf passes the first event on within ${PROMPT_MS} ms`, async () => {
        await assertStreamsPromptly(shipped!.url);
      });

      test(`X-Accel-Buffering: no gets the first event through nginx's defaults within ${PROMPT_MS} ms`, async () => {
        await assertStreamsPromptly(bare!.url);
      });

      test("control: without X-Accel-Buffering nginx's defaults hold the first event until the stream ends", async () => {
        const { ms, body, client } = await firstEvent(`${bare!.url}control`);
        client.close();
        assert.ok(
          ms >= PROMPT_MS,
          `the first event took only ${ms.toFixed(0)} ms: nginx did not buffer`,
        );
        assert.ok(
          body.includes(`data: e${EVENTS}\n\n`),
          `the first event came before the last: ${JSON.stringify(body)}`,
        );
      });
    });
  }
}
