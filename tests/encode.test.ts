// The wire format of WHATWG HTML §9.2 "Server-sent events": lines of
// `field: value`, CR / LF / CRLF as line ends, a blank line to dispatch.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { formatEvent, parseSSE, SSEEncoderStream } from "../mod.ts";
import {
  generate,
  jsonEvent,
  MULTILINE,
  openAIChunk,
  TOKEN,
} from "./support/corpus.ts";
import { streamOf } from "./support/streams.ts";

describe("formatEvent", () => {
  test("a string is one data line and a dispatching blank line", () => {
    assert.equal(formatEvent("hello"), "data: hello\n\n");
    assert.equal(formatEvent({ data: "hello" }), "data: hello\n\n");
  });

  test("an empty string still sends one data line (it dispatches an empty message)", () => {
    assert.equal(formatEvent(""), "data: \n\n");
    assert.equal(formatEvent({ data: "" }), "data: \n\n");
  });

  test("data is split on CR, LF and CRLF into data lines (§9.2.6: all three end a line)", () => {
    assert.equal(
      formatEvent("a\nb\r\nc\rd"),
      "data: a\ndata: b\ndata: c\ndata: d\n\n",
    );
    assert.equal(formatEvent("a\n"), "data: a\ndata: \n\n");
    assert.equal(formatEvent("\r\n\r\n"), "data: \ndata: \ndata: \n\n");
  });

  test("a leading space in data survives the one space the parser strips", () => {
    assert.equal(formatEvent("  x"), "data:   x\n\n");
  });

  test("every field, in a stable order", () => {
    assert.equal(
      formatEvent({
        comment: "note",
        event: "update",
        id: "7",
        retry: 1500,
        data: "x",
      }),
      ": note\nevent: update\nid: 7\nretry: 1500\ndata: x\n\n",
    );
  });

  test("non-string data goes through serialize, JSON by default", () => {
    assert.equal(
      formatEvent({ data: { a: [1, "b"] } }),
      'data: {"a":[1,"b"]}\n\n',
    );
    assert.equal(formatEvent({ data: null }), "data: null\n\n");
    assert.equal(formatEvent({ data: 0 }), "data: 0\n\n");
    assert.equal(
      formatEvent({ data: { a: 1 } }, {
        serialize: (v) => `<${JSON.stringify(v)}>\nnext`,
      }),
      'data: <{"a":1}>\ndata: next\n\n',
    );
  });

  test("numeric ids are written as decimal text", () => {
    assert.equal(formatEvent({ id: 42, data: "x" }), "id: 42\ndata: x\n\n");
    assert.equal(formatEvent({ id: 1.5, data: "x" }), "id: 1.5\ndata: x\n\n");
  });

  test('id "" is allowed and dispatches (it resets the client\'s last event id)', () => {
    assert.equal(formatEvent({ id: "" }), "id: \n\n");
  });

  test("comments become one ':' line each and do not dispatch", () => {
    assert.equal(formatEvent({ comment: "a\nb\r\nc" }), ": a\n: b\n: c\n");
    assert.equal(formatEvent({ comment: "" }), ": \n");
  });

  test("retry alone is a line that does not dispatch", () => {
    assert.equal(formatEvent({ retry: 0 }), "retry: 0\n");
  });

  test("an event or id without data still ends its block", () => {
    assert.equal(formatEvent({ event: "ping" }), "event: ping\n\n");
    assert.equal(formatEvent({ id: 3 }), "id: 3\n\n");
  });

  test("an empty object writes nothing", () => {
    assert.equal(formatEvent({}), "");
  });

  for (
    const [field, event] of [
      ["event", { event: "a\nevent: evil" }],
      ["event", { event: "a\rb" }],
      ["event", { event: 5 as unknown as string }],
      ["id", { id: "1\ndata: injected" }],
      ["id", { id: "1\r" }],
      ["id", { id: "a\0b" }],
      ["id", { id: Number.NaN }],
      ["id", { id: Infinity }],
      ["id", { id: {} as unknown as string }],
      ["retry", { retry: -1 }],
      ["retry", { retry: 1.5 }],
      ["retry", { retry: 2 ** 53 }],
      ["retry", { retry: "100" as unknown as number }],
      ["comment", { comment: 1 as unknown as string }],
    ] as const
  ) {
    test(`rejects ${JSON.stringify(event, (_k, v) => typeof v === "number" && !Number.isFinite(v) ? String(v) : v)} with a TypeError naming "${field}"`, () => {
      assert.throws(() => formatEvent(event), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, new RegExp(`"${field}"`));
        return true;
      });
    });
  }

  test("rejects a serialize result that is not a string", () => {
    assert.throws(
      () => formatEvent({ data: () => 1 }),
      /"data".*serialize must return a string/,
    );
    assert.throws(
      () =>
        formatEvent({ data: 1 }, { serialize: () => 2 as unknown as string }),
      TypeError,
    );
  });

  test("rejects an event that is neither a string nor an object", () => {
    for (const bad of [null, 1, true, undefined]) {
      assert.throws(() => formatEvent(bad as unknown as string), TypeError);
    }
  });
});

describe("SSEEncoderStream", () => {
  test("encodes a stream of events to UTF-8 bytes", async () => {
    const body = streamOf([{ event: "é", data: { x: "…" } }, "done"])
      .pipeThrough(new SSEEncoderStream());
    const text = await new Response(body).text();
    assert.equal(text, 'event: é\ndata: {"x":"…"}\n\ndata: done\n\n');
  });

  test("errors the stream with the TypeError for an invalid event", async () => {
    const body = streamOf([{ id: "a\nb" }]).pipeThrough(
      new SSEEncoderStream(),
    );
    await assert.rejects(new Response(body).text(), TypeError);
  });
});

describe("the benchmarks' events", () => {
  test("each reads back as it was sent: token, ~200-byte JSON with event and id, 4 KiB of lines", async () => {
    const sent = [
      { data: TOKEN },
      jsonEvent(0),
      jsonEvent(1),
      { data: MULTILINE },
      { data: JSON.stringify(openAIChunk("c", { content: "Hi" })) },
    ];
    const events = [];
    for await (const event of generate((i) => sent[i], sent.length)) {
      events.push(event);
    }
    const body = streamOf(events).pipeThrough(new SSEEncoderStream());
    const received = [];
    for await (const message of parseSSE(body)) received.push(message);
    // §9.2.6: the last event ID stays until another id field sets it.
    let lastEventId = "";
    const expected = sent.map((event) => {
      const id = "id" in event ? String(event.id) : undefined;
      lastEventId = id ?? lastEventId;
      return {
        type: "event" in event ? event.event : "message",
        data: typeof event.data === "string"
          ? event.data
          : JSON.stringify(event.data),
        ...(id === undefined ? {} : { id }),
        lastEventId,
      };
    });
    assert.deepEqual(received, expected);
    assert.equal(MULTILINE.length, 4096);
    assert.equal(received[3].data.split("\n").length, 52);
  });
});
