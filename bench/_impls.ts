/**
 * What the encode benchmark runs: the payloads (events of
 * tests/support/corpus.ts) and the implementations that turn it into a `Response`.
 *
 * @module
 */

import { createResponse } from "better-sse";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { createSSEStream } from "../mod.ts";
import type { ExpectedEvent } from "./_util.ts";
import { jsonEvent, MULTILINE, TOKEN } from "../tests/support/corpus.ts";

export { TOKEN };

/** One event of a benchmark source; every implementation maps it to its API. */
export interface BenchEvent {
  data: string | Record<string, unknown>;
  event?: string;
  id?: number;
}

export interface Payload {
  name: "token" | "json" | "multiline";
  label: string;
  event(index: number): BenchEvent;
  /** The minimum speed-up of ssekit over Hono the issue asks for. */
  target: number;
}

export const payloads: Payload[] = [
  {
    name: "token",
    label: "8-byte token",
    event: () => ({ data: TOKEN }),
    target: 5,
  },
  {
    name: "json",
    label: "~200-byte JSON with event + id",
    event: jsonEvent,
    target: 3,
  },
  {
    name: "multiline",
    label: "4 KiB, a line break every 80 chars",
    event: () => ({ data: MULTILINE }),
    target: 1.3,
  },
];

export type Source = () => AsyncIterable<BenchEvent>;

export interface Impl {
  name: string;
  respond(request: Request, source: Source): Response | Promise<Response>;
  /** What a client of this implementation reads for `event`. */
  expect(event: BenchEvent): ExpectedEvent;
}

function text(data: BenchEvent["data"]): string {
  return typeof data === "string" ? data : JSON.stringify(data);
}

function asSent(event: BenchEvent): ExpectedEvent {
  return {
    type: event.event ?? "message",
    data: text(event.data),
    id: event.id === undefined ? undefined : String(event.id),
  };
}

// The baseline's formatter knows the payloads have LF line breaks only.
function rawText(event: BenchEvent): string {
  let out = "";
  if (event.event !== undefined) out += "event: " + event.event + "\n";
  if (event.id !== undefined) out += "id: " + event.id + "\n";
  return out + "data: " + text(event.data).replaceAll("\n", "\ndata: ") +
    "\n\n";
}

const hono = new Hono<{ Bindings: { source: Source } }>();
hono.get("*", (c) =>
  streamSSE(c, async (stream) => {
    for await (const event of c.env.source()) {
      await stream.writeSSE({
        data: text(event.data),
        event: event.event,
        id: event.id === undefined ? undefined : String(event.id),
      });
    }
  }));

export const impls: Impl[] = [
  {
    name: "ssekit",
    respond: (request, source) =>
      createSSEStream(source(), { signal: request.signal }),
    expect: asSent,
  },
  {
    name: "hono",
    respond: (request, source) => hono.fetch(request, { source }),
    expect: asSent,
  },
  {
    name: "better-sse",
    respond(request, source) {
      // A fetch session only ends when its request's signal aborts (0.16 has
      // no close()), so it gets a request whose signal this code owns.
      const disconnect = new AbortController();
      request.signal.addEventListener("abort", () => disconnect.abort(), {
        once: true,
      });
      const own = new Request(request.url, { signal: disconnect.signal });
      return createResponse(
        own,
        { retry: null, keepAlive: null },
        async (session) => {
          try {
            for await (const event of source()) {
              session.push(
                event.data,
                event.event,
                event.id === undefined ? undefined : String(event.id),
              );
            }
          } catch {
            // A push after the client left throws; the checker would catch
            // a stream cut short for any other reason.
          } finally {
            disconnect.abort();
          }
        },
      );
    },
    // Its default serializer is JSON.stringify for strings too; unnamed
    // events get `event: message` and a random UUID id.
    expect: (event) => ({
      type: event.event ?? "message",
      data: JSON.stringify(event.data),
      id: event.id === undefined ? undefined : String(event.id),
    }),
  },
  {
    name: "raw",
    respond(_request, source) {
      const iterator = source()[Symbol.asyncIterator]();
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const step = await iterator.next();
          if (step.done) controller.close();
          else controller.enqueue(encoder.encode(rawText(step.value)));
        },
        async cancel() {
          await iterator.return?.();
        },
      });
      return new Response(body, {
        headers: {
          "Content-Type": "text/event-stream",
          "Cache-Control": "no-cache",
        },
      });
    },
    expect: asSent,
  },
];
