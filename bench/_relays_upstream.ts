/**
 * The fake LLM upstream of bench/relays.ts, as its own process (`bun
 * bench/_relays_upstream.ts` or `deno run -A …`): an OpenAI-compatible
 * `POST /v1/chat/completions?tokens=N&rate=R&tag=T` that streams, like
 * examples/openai_relay.ts's `fakeOpenAI`, a `chat.completion.chunk` with
 * the assistant role, then N token chunks R a second, then a chunk with
 * `finish_reason: "stop"` and `data: [DONE]`. Each token's content is
 * `"<tag> <index> <send time>"` (the tag names the generation), the send time in wall-clock milliseconds with
 * fractions, taken when the chunk is handed to the response, so the
 * follower that receives it measures the whole path.
 *
 * One timer paces every stream (a token is due at `start + index / rate`),
 * so a thousand replies cost one timer rather than a thousand, and a late
 * tick sends what is due at once instead of drifting.
 *
 * Also `GET /clock` (this process's clock, for the followers to measure
 * their offset from it) and `GET /stats` (pid, runtime, streams open and
 * started, tokens sent, tokens sent over 20 ms after they were due, streams
 * the relay cancelled). Prints its URL, then
 * serves until stdin closes.
 *
 * @module
 */

import process from "node:process";
import { serve } from "../tests/support/server.ts";
import { runtimeVersion } from "./_util.ts";
import { openAIChunk } from "../tests/support/corpus.ts";
import { exitWhenStdinCloses } from "../tests/support/stdin.ts";

/** How often the pacing timer runs, ms. */
const TICK_MS = 4;
/** A token sent this much after it was due counts as late: this process was starved. */
const LATE_MS = 20;

/** Wall-clock milliseconds with fractions, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

interface Reply {
  readonly controller: ReadableStreamDefaultController<Uint8Array>;
  readonly tokens: number;
  readonly interval: number;
  readonly start: number;
  readonly id: string;
  readonly tag: string;
  sent: number;
}

const encoder = new TextEncoder();
const replies = new Set<Reply>();
let started = 0;
let tokensSent = 0;
let late = 0;
let cancelled = 0;
let timer: ReturnType<typeof setInterval> | undefined;

function chunk(id: string, delta: object, finish: string | null): string {
  return `data: ${JSON.stringify(openAIChunk(id, delta, finish))}\n\n`;
}

function tick(): void {
  const at = now();
  for (const reply of replies) {
    let text = "";
    for (
      let due = reply.start + reply.sent * reply.interval;
      reply.sent < reply.tokens && due <= at;
      due = reply.start + reply.sent * reply.interval
    ) {
      if (at - due > LATE_MS) late++;
      text += chunk(
        reply.id,
        { content: `${reply.tag} ${reply.sent} ${now()}` },
        null,
      );
      reply.sent++;
      tokensSent++;
    }
    if (reply.sent === reply.tokens) {
      text += chunk(reply.id, {}, "stop") + "data: [DONE]\n\n";
      replies.delete(reply);
    }
    if (text === "") continue;
    try {
      reply.controller.enqueue(encoder.encode(text));
      if (!replies.has(reply)) reply.controller.close();
    } catch {
      // The relay went away meanwhile: cancel() has removed it.
      replies.delete(reply);
    }
  }
  if (replies.size === 0) {
    clearInterval(timer);
    timer = undefined;
  }
}

function reply(url: URL): Response {
  const tokens = Number(url.searchParams.get("tokens"));
  const rate = Number(url.searchParams.get("rate"));
  const tag = url.searchParams.get("tag") ?? "";
  if (!Number.isSafeInteger(tokens) || tokens < 1 || !(rate > 0)) {
    return new Response("expected ?tokens=N&rate=R&tag=…, N and R > 0", {
      status: 400,
    });
  }
  started++;
  let entry: Reply;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      entry = {
        controller,
        tokens,
        interval: 1_000 / rate,
        // The first token is due one interval after the role chunk.
        start: now() + 1_000 / rate,
        id: `chatcmpl-${started}`,
        tag,
        sent: 0,
      };
      controller.enqueue(
        encoder.encode(
          chunk(entry.id, { role: "assistant", content: "" }, null),
        ),
      );
      replies.add(entry);
      timer ??= setInterval(tick, TICK_MS);
    },
    cancel() {
      if (replies.delete(entry)) cancelled++;
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
    },
  });
}

const server = await serve(async (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/clock") return new Response(String(now()));
  if (url.pathname === "/stats") {
    return Response.json({
      pid: process.pid,
      runtime: runtimeVersion(),
      open: replies.size,
      started,
      tokens: tokensSent,
      late,
      cancelled,
    });
  }
  if (request.method === "POST" && url.pathname === "/v1/chat/completions") {
    // The request's messages are not needed: the reply is made of numbers.
    await request.arrayBuffer();
    return reply(url);
  }
  return new Response("not found", { status: 404 });
});
console.log(server.url);

exitWhenStdinCloses(() => server.close());
