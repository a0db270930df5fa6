// The official `openai` SDK as the client of a relay in front of the
// bundled fake OpenAI-compatible upstream, over real sockets: what it reads
// of a good stream, and how a failure reaches it. The SDK parses every data
// line as JSON before it looks at the event type, so ssekit's default error
// event must be JSON it understands (issue 12.4).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI, { APIError } from "openai";
import { relaySSE } from "../mod.ts";
import { fakeOpenAI, fakeReply } from "../examples/openai_relay.ts";
import { serverKinds, withServer } from "./support/server.ts";

/** A pass-through relay of POST bodies to `upstreamUrl`. */
function relayTo(upstreamUrl: string) {
  return async (request: Request) => {
    const body = await request.text();
    return relaySSE(
      (signal) =>
        fetch(upstreamUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body,
          signal,
        }),
      { signal: request.signal },
    );
  };
}

async function completion(baseURL: string, prompt: string): Promise<string> {
  const client = new OpenAI({ baseURL, apiKey: "test", maxRetries: 0 });
  const stream = await client.chat.completions.create({
    model: "fake-gpt",
    stream: true,
    messages: [{ role: "user", content: prompt }],
  });
  let text = "";
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  return text;
}

/** Runs `body` with console.error silenced (the relay logs the failure). */
async function quietly<T>(body: () => Promise<T>): Promise<T> {
  const original = console.error;
  console.error = () => {};
  try {
    return await body();
  } finally {
    console.error = original;
  }
}

for (const kind of serverKinds) {
  describe(`the openai SDK reading a relay on ${kind}`, () => {
    test("iterates a good stream with the exact text", async () => {
      await withServer(
        kind,
        (request) => fakeOpenAI(request, { delay: 0 }),
        async (upstream) => {
          await withServer(kind, relayTo(upstream), async (relay) => {
            const prompt = "héllo, “world” 😀";
            assert.equal(
              await completion(relay, prompt),
              fakeReply(prompt).join(""),
            );
          });
        },
      );
    });

    for (
      const [failure, upstreamHandler] of [
        ["a 500 upstream", () => new Response("overloaded", { status: 500 })],
        [
          "an upstream cut mid-stream",
          () => {
            const bytes = new TextEncoder().encode(
              'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\ndata: {"cho',
            );
            return new Response(
              new ReadableStream({
                start(controller) {
                  controller.enqueue(bytes);
                  controller.error(new Error("connection reset"));
                },
              }),
              { headers: { "Content-Type": "text/event-stream" } },
            );
          },
        ],
      ] as const
    ) {
      test(`surfaces ${failure} as the SDK's APIError, revealing nothing of the cause`, async () => {
        await withServer(kind, upstreamHandler, async (upstream) => {
          await withServer(kind, relayTo(upstream), async (relay) => {
            const error = await quietly(() =>
              completion(relay, "hi").then(() => undefined, (e) => e)
            );
            assert.ok(
              error instanceof APIError,
              `expected an APIError, got ${error}`,
            );
            assert.match(error.message, /The event stream failed/);
            assert.doesNotMatch(error.message, /overloaded|reset/);
          });
        });
      });
    }
  });
}
