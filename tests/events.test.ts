// Typed events (issue 15.1): one definition, from a map type or from
// Standard Schemas (zod here), shared by the server and the client. What
// the compiler refuses is checked with @ts-expect-error (deno check and
// tsc fail if a marked line compiles); what the client refuses at run time
// is checked below, over real sockets where it matters.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import {
  connectSSE,
  createHub,
  createSSEStream,
  defineEvents,
  parseSSE,
  relaySSE,
  SSEValidationError,
  type TypedSSEMessage,
} from "../mod.ts";
import { serve } from "./support/server.ts";
import { deferred } from "./support/deferred.ts";
import { streamOf } from "./support/streams.ts";
import { within } from "./support/time.ts";

type Chat = { token: string; done: { usage: number } };
const chat = defineEvents<Chat>();

const checked = defineEvents({
  token: z.string(),
  done: z.object({ usage: z.number().int() }),
});

/** Every message of a response read with a definition. */
async function readAll<T>(messages: AsyncIterableIterator<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const message of messages) all.push(message);
  return all;
}

describe("typed events: the compiler", () => {
  test("refuses what the map does not allow, on the server and the client", () => {
    // Server: a misspelled event, a wrong data shape, a missing event name.
    createSSEStream([{ event: "token", data: "ok" }], { events: chat });
    // @ts-expect-error: "tokn" is not an event of Chat
    createSSEStream([{ event: "tokn", data: "x" }], { events: chat });
    // One line each, so every compiler reports the error on it.
    const wrongShape = [{ event: "done", data: { usage: "2" } }] as const;
    // @ts-expect-error: done's data is { usage: number }
    createSSEStream(wrongShape, { events: chat });
    // @ts-expect-error: only "message" may leave out its name
    createSSEStream([{ data: "x" }], { events: chat });
    const hub = createHub({ events: chat });
    void hub.publish("t", { event: "done", data: { usage: 2 } });
    // @ts-expect-error: a typed hub takes only the map's events
    void hub.publish("t", { event: "other", data: 1 }).catch(() => {});
    void hub.close();
    relaySSE(new Response(""), {
      events: chat,
      map: (m) => ({ event: "token", data: m.data }),
    });
    const badMap = () => ({ event: "done" as const, data: "not an object" });
    // @ts-expect-error: the map's events are checked too
    relaySSE(new Response(""), { events: chat, map: badMap });
    // Client: checking the type narrows the data.
    const show = (message: TypedSSEMessage<Chat>): string => {
      if (message.type === "done") return message.data.usage.toFixed(0);
      // @ts-expect-error: a token's data is a string, with no usage
      message.data.usage;
      return message.data.toUpperCase();
    };
    assert.equal(
      show({ type: "done", data: { usage: 2 }, lastEventId: "" }),
      "2",
    );
    // Schemas give the map their output types.
    const fromSchemas = (
      message: TypedSSEMessage<{
        token: string;
        done: { usage: number };
      }>,
    ) => message;
    void (async () => {
      for await (
        const message of parseSSE(new Response(""), { events: checked })
      ) fromSchemas(message);
    });
    // Untyped use is as it was.
    createSSEStream([{ event: "anything", data: 1 }]);
  });
});

describe("typed events: the wire and the client", () => {
  test("data goes as JSON, strings included, and comes back decoded and narrowed", async () => {
    const response = createSSEStream([
      { event: "token", data: "Hel" },
      { event: "token", data: 'lo "quoted"\nline' },
      { event: "done", data: { usage: 2 } },
    ], { events: chat, keepAlive: false });
    const text = await response.clone().text();
    assert.equal(
      text,
      ':\nevent: token\ndata: "Hel"\n\nevent: token\ndata: "lo \\"quoted\\"\\nline"\n\nevent: done\ndata: {"usage":2}\n\n',
    );
    const messages = await readAll(parseSSE(response, { events: chat }));
    assert.deepEqual(messages.map((m) => [m.type, m.data]), [
      ["token", "Hel"],
      ["token", 'lo "quoted"\nline'],
      ["done", { usage: 2 }],
    ]);
  });

  test("schemas validate each message; a refused one is an SSEValidationError that keeps it", async () => {
    const body =
      'event: token\ndata: "ok"\n\nevent: done\ndata: {"usage":2.5}\n\n' +
      'event: done\ndata: {"usage":3}\n\n';
    const read = () => parseSSE(streamOf([body]), { events: checked });
    await assert.rejects(readAll(read()), (error: unknown) => {
      assert.ok(error instanceof SSEValidationError);
      assert.ok(error instanceof TypeError);
      assert.equal(error.received.type, "done");
      assert.equal(error.received.data, '{"usage":2.5}');
      assert.ok(error.issues.length > 0);
      assert.match(error.message, /schema refused it/);
      return true;
    });
    // With onInvalid, it is reported and skipped.
    const invalid: SSEValidationError[] = [];
    const kept = await readAll(
      parseSSE(streamOf([body]), {
        events: checked,
        onInvalid: (error) => void invalid.push(error),
      }),
    );
    assert.deepEqual(kept.map((m) => [m.type, m.data]), [
      ["token", "ok"],
      ["done", { usage: 3 }],
    ]);
    assert.equal(invalid.length, 1);
  });

  test("not JSON, or a type the schemas do not name, is refused too", async () => {
    const invalid: string[] = [];
    const onInvalid = (error: SSEValidationError) =>
      void invalid.push(error.message);
    await readAll(
      parseSSE(streamOf(["event: token\ndata: bare text\n\n"]), {
        events: chat,
        onInvalid,
      }),
    );
    await readAll(
      parseSSE(streamOf(['event: surprise\ndata: "x"\n\n']), {
        events: checked,
        onInvalid,
      }),
    );
    assert.equal(invalid.length, 2);
    assert.match(invalid[0], /not JSON/);
    assert.match(invalid[1], /no such type/);
    assert.throws(
      () => parseSSE(streamOf([""]), { events: 5 as never }),
      TypeError,
    );
    assert.throws(() => defineEvents({ token: {} as never }), TypeError);
  });

  test("end to end: a typed hub, served over a socket, read by a typed connectSSE", async () => {
    const hub = createHub({ events: checked });
    const server = await serve((request) =>
      hub.response(request, "chat", { keepAlive: false })
    );
    const opened = deferred();
    const stream = connectSSE(server.url, {
      events: checked,
      reconnect: false,
      onOpen: () => opened.resolve(),
    });
    try {
      const reading = (async () => {
        const got: unknown[] = [];
        for await (const message of stream) {
          got.push(message.type === "done" ? message.data.usage : message.data);
          if (message.type === "done") break;
        }
        return got;
      })();
      // A first connection reads live events: publish once it is open.
      await within(opened.promise, 5_000, "the connection");
      await hub.publish("chat", { event: "token", data: "there" });
      await hub.publish("chat", { event: "done", data: { usage: 2 } });
      assert.deepEqual(await within(reading, 5_000, "messages"), [
        "there",
        2,
      ]);
    } finally {
      stream.close();
      await server.close();
      await hub.close();
    }
  });

  test("a typed connectSSE that meets an invalid message fails the connection, as the hooks are told", async () => {
    const told: unknown[] = [];
    const stream = connectSSE("http://127.0.0.1:1/", {
      events: checked,
      reconnect: false,
      fetch: () =>
        Promise.resolve(
          new Response('event: token\ndata: "ok"\n\nevent: done\ndata: 1\n\n', {
            headers: { "Content-Type": "text/event-stream" },
          }),
        ),
      hooks: {
        onClose: ({ reason, error }) =>
          void told.push(["close", reason, error]),
        onError: ({ where, error }) => void told.push(["error", where, error]),
      },
    });
    assert.deepEqual((await stream.next()).value, {
      type: "token",
      data: "ok",
      lastEventId: "",
    });
    const failed = await stream.next().catch((error: unknown) => error);
    assert.ok(failed instanceof SSEValidationError);
    assert.equal(stream.readyState, 2);
    assert.deepEqual(told, [
      ["close", "error", failed],
      ["error", "client", failed],
    ]);
    assert.deepEqual(await stream.next(), { done: true, value: undefined });
  });

  test("a typed relay sends its map's events as JSON", async () => {
    const upstream = new Response(
      'data: "Hel"\n\ndata: "lo"\n\ndata: [DONE]\n\n',
      { headers: { "Content-Type": "text/event-stream" } },
    );
    const response = relaySSE(upstream, {
      events: chat,
      keepAlive: false,
      map: (message) =>
        message.data === "[DONE]"
          ? { event: "done", data: { usage: 2 } }
          : { event: "token", data: JSON.parse(message.data) as string },
    });
    const messages = await readAll(parseSSE(response, { events: chat }));
    assert.deepEqual(messages.map((m) => [m.type, m.data]), [
      ["token", "Hel"],
      ["token", "lo"],
      ["done", { usage: 2 }],
    ]);
  });
});
