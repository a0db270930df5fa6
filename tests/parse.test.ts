// The decoder against WHATWG HTML §9.2.6 "Interpreting an event stream":
// UTF-8 decoding with one leading BOM stripped, CR / LF / CRLF line ends,
// `field: value` lines with one leading space stripped from the value, a
// blank line dispatching, and the last event ID persisting between events.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DEFAULT_MAX_EVENT_SIZE,
  EventStreamInterpreter,
  parseSSE,
  type SSEDecoderOptions,
  SSEDecoderStream,
} from "../src/parse.ts";
import { formatEvent } from "../src/encode.ts";
import type { SSEEvent, SSEMessage } from "../src/types.ts";
import { longLine, mixedCorpus } from "./support/corpus.ts";
import { streamOf } from "./support/streams.ts";
import { within } from "./support/time.ts";

type Chunk = Uint8Array | string;

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

async function readAll<T>(stream: ReadableStream<T>): Promise<T[]> {
  const reader = stream.getReader();
  const out: T[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

/** Runs chunks through an SSEDecoderStream. */
function decode(
  chunks: Chunk[],
  options?: SSEDecoderOptions,
): Promise<SSEMessage[]> {
  return readAll(streamOf(chunks).pipeThrough(new SSEDecoderStream(options)));
}

/** Runs chunks through parseSSE. */
async function iterate(
  chunks: Chunk[],
  options?: SSEDecoderOptions,
): Promise<SSEMessage[]> {
  const out: SSEMessage[] = [];
  for await (
    const message of parseSSE(
      streamOf(chunks) as ReadableStream<Uint8Array>,
      options,
    )
  ) out.push(message);
  return out;
}

function message(
  data: string,
  rest: Partial<SSEMessage> = {},
): SSEMessage {
  return { type: "message", data, lastEventId: "", ...rest };
}

/** `data` cut into chunks at the given offsets. */
function cut(data: Uint8Array, offsets: number[]): Uint8Array[] {
  const points = [...new Set(offsets)].filter((n) => n > 0 && n < data.length)
    .sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, data.length]) {
    out.push(data.subarray(start, point));
    start = point;
  }
  return out;
}

function byteByByte(data: Uint8Array): Uint8Array[] {
  return Array.from(data, (_, i) => data.subarray(i, i + 1));
}

/** Every way to cut `text`'s bytes in two, plus byte by byte and whole. */
function twoPieceSplits(text: string): Uint8Array[][] {
  const data = bytes(text);
  const splits = [[data], byteByByte(data)];
  for (let i = 1; i < data.length; i++) splits.push(cut(data, [i]));
  return splits;
}

async function assertEverySplit(
  text: string,
  expected: SSEMessage[],
  options?: SSEDecoderOptions,
): Promise<void> {
  for (const chunks of twoPieceSplits(text)) {
    assert.deepEqual(
      await decode(chunks, options),
      expected,
      `split into ${chunks.map((c) => c.length).join("+")} bytes`,
    );
  }
  assert.deepEqual(await decode([text], options), expected, "as a string");
}

describe("SSEDecoderStream: decoding (§9.2.6: UTF-8 decode, one BOM)", () => {
  test("a leading BOM is stripped once; a second one is part of the next field name", async () => {
    const text = "\uFEFFdata: 1\n\n\uFEFFdata: 2\n\ndata: 3\n\n";
    await assertEverySplit(text, [message("1"), message("3")]);
  });

  test("two BOMs at the start: only the first is stripped, so the line is an unknown field", async () => {
    await assertEverySplit("\uFEFF\uFEFFdata: x\n\ndata: y\n\n", [
      message("y"),
    ]);
  });

  test("a BOM split byte by byte across chunks is still stripped once", async () => {
    const data = bytes("\uFEFFdata: a\n\n");
    assert.deepEqual(await decode(byteByByte(data)), [message("a")]);
    assert.deepEqual(
      await decode([new Uint8Array(0), ...cut(data, [1, 2])]),
      [message("a")],
    );
  });

  test("a BOM opening a later chunk is not at the start of the stream", async () => {
    assert.deepEqual(
      await decode([bytes("data: a\n\n"), bytes("\uFEFFdata: b\n\n")]),
      [message("a")],
    );
    assert.deepEqual(
      await decode(["data: a\n\n", "\uFEFFdata: b\n\n"]),
      [message("a")],
    );
  });

  test("a BOM inside a value is kept", async () => {
    await assertEverySplit("data: \uFEFFx\uFEFF\n\n", [
      message("\uFEFFx\uFEFF"),
    ]);
  });

  test("multi-byte characters split between chunks stay whole", async () => {
    await assertEverySplit("data: é€😀\u{10FFFF}\n\nevent: ✓\ndata: ü\n\n", [
      message("é€😀\u{10FFFF}"),
      message("ü", { type: "✓" }),
    ]);
  });

  test("invalid UTF-8 becomes U+FFFD exactly as one decoder over the whole stream makes it", async () => {
    const samples = [
      [0xff],
      [0xc3],
      [0xe2, 0x82],
      [0xf0, 0x9f, 0x98],
      [0xe0, 0x80, 0x80],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xc0, 0xaf],
      [0x80, 0xbf],
      [0xe2, 0x82, 0x41, 0xc3, 0xa9],
      [0xf0, 0x9f, 0x98, 0xf0, 0x9f, 0x98, 0x80],
    ];
    for (const sample of samples) {
      const payload = new Uint8Array(sample);
      const data = new Uint8Array([
        ...bytes("data: "),
        ...payload,
        ...bytes("\n\n"),
      ]);
      const expected = [message(new TextDecoder().decode(payload))];
      for (let i = 0; i <= data.length; i++) {
        for (let j = i; j <= data.length; j++) {
          assert.deepEqual(
            await decode(cut(data, [i, j])),
            expected,
            `bytes ${sample} cut at ${i}, ${j}`,
          );
        }
      }
    }
  });

  test("a character cut short at the end of input is discarded with its line", async () => {
    assert.deepEqual(
      await decode([bytes("data: a\n\ndata: "), new Uint8Array([0xe2, 0x82])]),
      [message("a")],
    );
  });

  test("characters split by the cuts between big chunks stay whole", async () => {
    for (const c of ["é", "€", "😀"]) {
      const value = c.repeat(3000);
      const data = bytes(`data: ${value}\ndata: ${value}\n\n`);
      for (const size of [511, 512, 513, 514, 515, 1000, 4096]) {
        const chunks = [];
        for (let i = 0; i < data.length; i += size) {
          chunks.push(data.subarray(i, i + size));
        }
        assert.deepEqual(
          await decode(chunks),
          [message(value + "\n" + value)],
          `${c} in chunks of ${size}`,
        );
      }
    }
  });

  test("a stream of nothing but a character cut short ends quietly", async () => {
    assert.deepEqual(await decode([new Uint8Array([0xe2])]), []);
    assert.deepEqual(await decode([new Uint8Array([0xef, 0xbb])]), []);
    assert.deepEqual(
      await decode([new Uint8Array([0xf0]), new Uint8Array([0x9f, 0x98])]),
      [],
    );
  });

  test("bytes cut short before a string chunk end as U+FFFD", async () => {
    assert.deepEqual(
      await decode([bytes("data: a"), new Uint8Array([0xe2, 0x82]), "b\n\n"]),
      [message("a\uFFFDb")],
    );
    // At the very start, U+FFFD is no BOM: the line is an unknown field.
    assert.deepEqual(
      await decode([new Uint8Array([0xe2]), "data: x\n\ndata: y\n\n"]),
      [message("y")],
    );
  });

  test("a chunk that is neither bytes nor a string errors the stream with a TypeError", async () => {
    await assert.rejects(
      decode([42 as unknown as string]),
      (error: unknown) =>
        error instanceof TypeError &&
        /Uint8Array or a string/.test(error.message),
    );
  });
});

describe("SSEDecoderStream: line ends (§9.2.6: CRLF, LF, CR)", () => {
  test("CR, LF and CRLF each end a line", async () => {
    await assertEverySplit(
      "data: a\rdata: b\ndata: c\r\ndata: d\r\rdata: e\n\ndata: f\r\n\r\n",
      [message("a\nb\nc\nd"), message("e"), message("f")],
    );
  });

  test("LF CR is two line ends, CR LF is one", async () => {
    await assertEverySplit("data: a\n\rdata: b\r\n\r\n", [
      message("a"),
      message("b"),
    ]);
  });

  test("an LF opening the chunk after a CR belongs to that CR, not an empty line", async () => {
    assert.deepEqual(
      await decode([
        "data: a\r",
        "\n",
        "data: b\r",
        "\ndata: c\r",
        "\n\r",
        "\n",
      ]),
      [message("a\nb\nc")],
    );
    assert.deepEqual(
      await decode([bytes("data: a\r"), bytes("\ndata: b\r\n\r"), bytes("\n")]),
      [message("a\nb")],
    );
  });

  test("the LF after a CR is swallowed even after empty chunks", async () => {
    assert.deepEqual(
      await decode(["data: a\r", "", new Uint8Array(0), "\ndata: b\n\n"]),
      [message("a\nb")],
    );
  });

  test("a CR ending a chunk dispatches its event before any more input arrives", async () => {
    for (const text of ["data: x\r\r", "data: x\n\r", "data: x\r\n\r"]) {
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const source = new ReadableStream<Uint8Array>({
        start(c) {
          controller = c;
          c.enqueue(bytes(text));
        },
      });
      const reader = source.pipeThrough(new SSEDecoderStream()).getReader();
      const first = await within(reader.read(), 2_000, `the event of ${text}`);
      assert.deepEqual(first, { done: false, value: message("x") });
      // The LF that may follow is not an empty line dispatching again.
      controller.enqueue(bytes("\ndata: y\n\n"));
      controller.close();
      assert.deepEqual(await reader.read(), {
        done: false,
        value: message("y"),
      });
      // Not deepEqual: workerd's reader leaves `value` out at the end.
      assert.equal((await reader.read()).done, true);
    }
  });

  test("parseSSE also hands out an event ended by a CR before more input", async () => {
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes("data: x\r\r"));
      },
    });
    const messages = parseSSE(source);
    assert.deepEqual(await within(messages.next(), 2_000, "next()"), {
      done: false,
      value: message("x"),
    });
    await messages.return!();
  });
});

describe("SSEDecoderStream: fields (§9.2.6: processing a field)", () => {
  test("only one leading space is stripped from a value", async () => {
    await assertEverySplit(
      "data:x\n\ndata: x\n\ndata:  x\n\ndata:\tx\n\ndata: \n\n",
      [message("x"), message("x"), message(" x"), message("\tx"), message("")],
    );
  });

  test("a value runs from the first colon; later colons are part of it", async () => {
    assert.deepEqual(await decode(["data: a: b:c\n\n"]), [message("a: b:c")]);
  });

  test("a line without a colon is a field name with an empty value", async () => {
    assert.deepEqual(await decode(["data\n\n"]), [message("")]);
    assert.deepEqual(await decode(["data\ndata\n\n"]), [message("\n")]);
    assert.deepEqual(await decode(["event\ndata: x\n\n"]), [message("x")]);
    assert.deepEqual(await decode(["id: 1\n\nid\ndata: x\n\n"]), [
      message("x", { lastEventId: "", id: "" }),
    ]);
  });

  test("data lines join with LF, and only the final LF is removed", async () => {
    assert.deepEqual(await decode(["data:\ndata:\n\n"]), [message("\n")]);
    assert.deepEqual(await decode(["data: a\ndata:\n\n"]), [message("a\n")]);
    assert.deepEqual(await decode(["data:\ndata: a\n\n"]), [message("\na")]);
    assert.deepEqual(await decode(["data: a\ndata: b\ndata: c\n\n"]), [
      message("a\nb\nc"),
    ]);
  });

  test("a block without data lines dispatches nothing", async () => {
    assert.deepEqual(
      await decode(["event: a\n\n: c\n\nretry: 5\n\n\n\n\ndata: x\n\n"]),
      [message("x")],
    );
  });

  test("field names are case-sensitive and exact; unknown fields are ignored", async () => {
    const text = "Data: 1\ndata : 2\n data: 3\ndata\0: 4\nDATA: 5\n" +
      "dat: 6\ndataa: 7\nfoo: 8\n\0data: 9\nEvent: x\nID: 1\nretr: 1\n" +
      "data: kept\n\n";
    await assertEverySplit(text, [message("kept")]);
  });

  test("a mix of valid and invalid fields in one block (own vector after §9.2.6)", async () => {
    const text = "data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\n" +
      "da-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n";
    await assertEverySplit(text, [message("\0\n 2\n1\n3\n\n4")]);
  });

  test("event sets the type for one dispatch; an empty one means message", async () => {
    await assertEverySplit(
      "event: add\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\nevent: a\nevent: b\ndata: 4\n\n",
      [
        message("1", { type: "add" }),
        message("2"),
        message("3"),
        message("4", { type: "b" }),
      ],
    );
  });

  test("the event type is reset by a dispatch that sends nothing", async () => {
    assert.deepEqual(await decode(["event: a\n\ndata: x\n\n"]), [
      message("x"),
    ]);
  });

  test("event type and data may hold any character but CR and LF", async () => {
    assert.deepEqual(await decode(["event: \0 é:\t\ndata: \0\t:😀\n\n"]), [
      message("\0\t:😀", { type: "\0 é:\t" }),
    ]);
  });
});

describe("SSEDecoderStream: ids (§9.2.6: last event ID buffer)", () => {
  test("an id belongs to its event and persists as lastEventId", async () => {
    await assertEverySplit("id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n", [
      message("a", { lastEventId: "1", id: "1" }),
      message("b", { lastEventId: "1" }),
      message("c", { lastEventId: "2", id: "2" }),
    ]);
  });

  test("an id-only block commits lastEventId without sending an event", async () => {
    assert.deepEqual(await decode(["id: 7\n\ndata: x\n\n"]), [
      message("x", { lastEventId: "7" }),
    ]);
  });

  test("an empty id resets lastEventId to the empty string", async () => {
    await assertEverySplit("id: 1\ndata: a\n\nid:\ndata: b\n\ndata: c\n\n", [
      message("a", { lastEventId: "1", id: "1" }),
      message("b", { lastEventId: "", id: "" }),
      message("c"),
    ]);
  });

  test("an id with NUL is ignored entirely", async () => {
    await assertEverySplit(
      "id: 1\n\nid: 2\0\ndata: a\n\nid: \0\ndata: b\n\nid: 3\nid: x\0y\ndata: c\n\n",
      [
        message("a", { lastEventId: "1" }),
        message("b", { lastEventId: "1" }),
        message("c", { lastEventId: "3", id: "3" }),
      ],
    );
  });

  test("the last id field of a block wins", async () => {
    assert.deepEqual(await decode(["id: 1\nid: 2\ndata: x\n\n"]), [
      message("x", { lastEventId: "2", id: "2" }),
    ]);
  });

  test("ids keep spaces after the first and any other character", async () => {
    assert.deepEqual(await decode(["id:  a:b é\ndata: x\n\n"]), [
      message("x", { lastEventId: " a:b é", id: " a:b é" }),
    ]);
  });

  test("the lastEventId option seeds a resumed stream", async () => {
    assert.deepEqual(
      await decode(["data: a\n\nid: 43\ndata: b\n\nid\n\ndata: c\n\n"], {
        lastEventId: "42",
      }),
      [
        message("a", { lastEventId: "42" }),
        message("b", { lastEventId: "43", id: "43" }),
        message("c", { lastEventId: "" }),
      ],
    );
    assert.deepEqual(
      await iterate(["data: a\n\n"], { lastEventId: "x" }),
      [message("a", { lastEventId: "x" })],
    );
  });
});

describe("SSEDecoderStream: retry and comments", () => {
  test("retry takes ASCII digits only (§9.2.6)", async () => {
    const retries: number[] = [];
    const text = "retry: 1000\nretry:10\nretry: 007\nretry: 0\n" +
      "retry: 1a\nretry:  10\nretry: -1\nretry: 1.5\nretry: 1e3\n" +
      "retry:\nretry\nretry: \nretry: \u0661\u0662\nretry: 10 \nRetry: 5\n" +
      "retry: 99999999999999999999\ndata: x\n\n";
    for (const chunks of [[text], twoPieceSplits(text)[1]]) {
      retries.length = 0;
      assert.deepEqual(
        await decode(chunks, { onRetry: (ms) => retries.push(ms) }),
        [message("x")],
      );
      assert.deepEqual(retries, [1000, 10, 7, 0, 1e20]);
    }
  });

  test("comments go to onComment without the colon and one space, and do not dispatch", async () => {
    const comments: string[] = [];
    const messages = await decode(
      [": hello\n:  two\n:\n:x:y\ndata: a\n: inside\ndata: b\n\n: tail\n\n"],
      { onComment: (text) => comments.push(text) },
    );
    assert.deepEqual(messages, [message("a\nb")]);
    assert.deepEqual(comments, ["hello", " two", "", "x:y", "inside", "tail"]);
  });

  test("a throwing callback errors the stream", async () => {
    const boom = new Error("boom");
    await assert.rejects(
      decode([": x\n"], {
        onComment() {
          throw boom;
        },
      }),
      boom,
    );
  });
});

describe("SSEDecoderStream: end of input (§9.2.6: pending data is discarded)", () => {
  test("an event without its blank line is not dispatched", async () => {
    assert.deepEqual(await decode(["data: x"]), []);
    assert.deepEqual(await decode(["data: x\n"]), []);
    assert.deepEqual(await decode(["data: x\n\ndata: y\n"]), [message("x")]);
    assert.deepEqual(await decode(["data: x\r\ndata: y\r"]), []);
    assert.deepEqual(await decode([]), []);
    assert.deepEqual(await decode([""]), []);
  });
});

describe("SSEDecoderStream: maxEventSize", () => {
  test("the default is 16 Mi UTF-16 code units", () => {
    assert.equal(DEFAULT_MAX_EVENT_SIZE, 16 * 1024 * 1024);
  });

  test("a line that never ends errors the stream with a RangeError, memory staying bounded", async () => {
    // Big chunks are decoded at once and held as text, at most the limit;
    // small ones are held as bytes, at most three per UTF-16 code unit.
    for (const [size, most] of [[1024, 65536 + 1024], [100, 3 * 65536 + 100]]) {
      let read = 0;
      // Ends after 1 MiB, so a missing limit fails the test, not hangs it.
      const endless = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (read >= 1 << 20) return controller.close();
          read += size;
          controller.enqueue(new Uint8Array(size).fill(0x61));
        },
      }, { highWaterMark: 0 });
      await assert.rejects(
        readAll(
          endless.pipeThrough(new SSEDecoderStream({ maxEventSize: 65536 })),
        ),
        (error: unknown) =>
          error instanceof RangeError && /maxEventSize/.test(error.message) &&
          /65536/.test(error.message),
      );
      assert.ok(read <= most + size, `read ${read} bytes in chunks of ${size}`);
    }
  });

  test("an event with too much data errors, even when every line is short", async () => {
    const text = "data: 0123456789\n".repeat(100);
    await assert.rejects(
      decode([text], { maxEventSize: 1000 }),
      (error: unknown) =>
        error instanceof RangeError && /maxEventSize/.test(error.message),
    );
    // The same data in events of their own is fine.
    const events = "data: 0123456789\n\n".repeat(100);
    assert.equal((await decode([events], { maxEventSize: 1000 })).length, 100);
  });

  test("a line or data exactly at the limit passes; one unit more fails", async () => {
    const exactly = "data:" + "x".repeat(5) + "\n\n";
    assert.deepEqual(await decode([exactly], { maxEventSize: 10 }), [
      message("xxxxx"),
    ]);
    assert.deepEqual(
      await decode(byteByByte(bytes(exactly)), { maxEventSize: 10 }),
      [message("xxxxx")],
    );
    for (
      const chunks of [["data:" + "x".repeat(6) + "\n\n"], ["data:xxx", "xxx"]]
    ) {
      await assert.rejects(decode(chunks, { maxEventSize: 10 }), RangeError);
    }
    // Data counts as dispatched: "abc\ndef\n" is eight units.
    assert.deepEqual(
      await decode(["data:abc\ndata:def\ndata:\n\n"], { maxEventSize: 8 }),
      [message("abc\ndef\n")],
    );
    await assert.rejects(
      decode(["data:abc\ndata:def\ndata:g\n\n"], { maxEventSize: 8 }),
      (error: unknown) =>
        error instanceof RangeError && /event data/.test(error.message),
    );
  });

  test("comments and other lines count as lines too", async () => {
    await assert.rejects(
      decode([":" + "x".repeat(20) + "\n"], { maxEventSize: 10 }),
      RangeError,
    );
    await assert.rejects(
      decode(["event: " + "x".repeat(20) + "\n"], { maxEventSize: 10 }),
      RangeError,
    );
  });

  test("invalid limits are rejected up front", () => {
    for (const bad of [0, -1, 1.5, NaN, -Infinity]) {
      assert.throws(
        () => new SSEDecoderStream({ maxEventSize: bad }),
        (error: unknown) =>
          error instanceof RangeError && /maxEventSize/.test(error.message),
      );
    }
    assert.throws(
      () => new SSEDecoderStream({ maxEventSize: "10" as unknown as number }),
      TypeError,
    );
    new SSEDecoderStream({ maxEventSize: Infinity });
  });

  test("other invalid options are TypeErrors", () => {
    assert.throws(() => new SSEDecoderStream(5 as never), TypeError);
    for (
      const [options, message] of [
        [{ onRetry: 5 }, '"onRetry": expected a function, got number 5'],
        [{ onComment: "x" }, '"onComment": expected a function, got "x"'],
        [{ lastEventId: 5 }, '"lastEventId": expected a string, got number 5'],
      ] as const
    ) {
      assert.throws(() => new SSEDecoderStream(options as never), {
        name: "TypeError",
        message: `Invalid SSE decoder option ${message}`,
      });
    }
  });

  test("an 8 MiB line in 1 KiB chunks parses whole", async () => {
    const size = 8 * 1024 * 1024;
    const data = new Uint8Array(size + 8);
    data.set(bytes("data:"));
    for (let i = 5; i < size + 5; i++) data[i] = 0x61 + (i % 26);
    data.set(bytes("\n\n"), size + 5);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < data.length; i += 1024) {
      chunks.push(data.subarray(i, i + 1024));
    }
    const [only, ...rest] = await decode(chunks);
    assert.equal(rest.length, 0);
    assert.equal(only.data.length, size);
    assert.equal(only.data.slice(0, 3), "fgh");
    assert.equal(
      only.data.slice(-1),
      String.fromCharCode(0x61 + (size + 4) % 26),
    );
    assert.ok(
      only.data === new TextDecoder().decode(data.subarray(5, size + 5)),
    );
  });
});

describe("parseSSE", () => {
  test("reads a Response", async () => {
    const response = new Response("id: 1\ndata: a\n\nevent: e\ndata: b\n\n");
    const out: SSEMessage[] = [];
    for await (const m of parseSSE(response)) out.push(m);
    assert.deepEqual(out, [
      message("a", { lastEventId: "1", id: "1" }),
      message("b", { lastEventId: "1", type: "e" }),
    ]);
  });

  test("a Response without a body ends at once", async () => {
    const out: SSEMessage[] = [];
    for await (const m of parseSSE(new Response(null))) out.push(m);
    assert.deepEqual(out, []);
  });

  test("reads a ReadableStream of bytes or of strings", async () => {
    const expected = [message("é"), message("x", { type: "t" })];
    const text = "data: é\n\nevent: t\ndata: x\n\n";
    assert.deepEqual(await iterate(byteByByte(bytes(text))), expected);
    assert.deepEqual(await iterate([text]), expected);
    const strings: SSEMessage[] = [];
    for await (const m of parseSSE(streamOf([text]))) strings.push(m);
    assert.deepEqual(strings, expected);
  });

  test("calls onRetry and onComment", async () => {
    const seen: unknown[] = [];
    await iterate([": hi\nretry: 5\n"], {
      onRetry: (ms) => seen.push(ms),
      onComment: (text) => seen.push(text),
    });
    assert.deepEqual(seen, ["hi", 5]);
  });

  test("leaving a for await loop early cancels the body", async () => {
    for (const leave of ["break", "throw"]) {
      let cancelled: unknown = "not called";
      const source = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes("data: 1\n\ndata: 2\n\n"));
        },
        cancel(reason) {
          cancelled = reason;
        },
      });
      const seen: string[] = [];
      try {
        for await (const m of parseSSE(source)) {
          seen.push(m.data);
          if (leave === "break") break;
          throw new Error("leave");
        }
      } catch (error) {
        assert.equal((error as Error).message, "leave");
      }
      assert.deepEqual(seen, ["1"]);
      assert.equal(cancelled, undefined, `cancel() after ${leave}`);
      assert.equal(source.locked, false);
    }
  });

  test("return() while a read is pending settles it and cancels the body", async () => {
    let cancelled = false;
    const stalled = new ReadableStream<Uint8Array>({
      cancel() {
        cancelled = true;
      },
    });
    const messages = parseSSE(stalled);
    const pending = messages.next();
    assert.deepEqual(await within(messages.return!(), 2_000, "return()"), {
      done: true,
      value: undefined,
    });
    assert.deepEqual(await within(pending, 2_000, "the pending next()"), {
      done: true,
      value: undefined,
    });
    assert.equal(cancelled, true);
    assert.deepEqual(await messages.next(), { done: true, value: undefined });
  });

  test("pulls the body only as messages are asked for", async () => {
    let pulls = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(bytes(`data: ${pulls++}\n\n`));
      },
      cancel() {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
    const seen: string[] = [];
    for await (const m of parseSSE(endless)) {
      seen.push(m.data);
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, ["0", "1", "2"]);
    assert.ok(pulls <= 4, `pulled ${pulls} chunks for 3 messages`);
    assert.equal(cancelled, true);
  });

  test("concurrent next() calls resolve in order", async () => {
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes("data: 1\n\n"));
        controller.enqueue(bytes(": nothing here\n"));
        controller.enqueue(bytes("data: 2\n\ndata: 3\n\n"));
        controller.close();
      },
    });
    const messages = parseSSE(source);
    const results = await Promise.all([
      messages.next(),
      messages.next(),
      messages.next(),
      messages.next(),
    ]);
    assert.deepEqual(results.map((r) => r.done ? null : r.value.data), [
      "1",
      "2",
      "3",
      null,
    ]);
  });

  test("a line over maxEventSize rejects next() with a RangeError and cancels the body", async () => {
    let cancelled: unknown;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(100).fill(0x61));
      },
      cancel(reason) {
        cancelled = reason;
      },
    });
    const messages = parseSSE(source, { maxEventSize: 1000 });
    await assert.rejects(messages.next(), RangeError);
    assert.ok(cancelled instanceof RangeError);
    assert.deepEqual(await messages.next(), { done: true, value: undefined });
  });

  test("a failing body rejects next() with its error", async () => {
    const boom = new Error("boom");
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes("data: 1\n\n"));
        controller.error(boom);
      },
    });
    const messages = parseSSE(source);
    await assert.rejects(messages.next(), boom);
    assert.deepEqual(await messages.next(), { done: true, value: undefined });
  });

  test("invalid input is a TypeError, and so is a locked body", () => {
    assert.throws(() => parseSSE(42 as never), /Response or a ReadableStream/);
    assert.throws(() => parseSSE(null as never), TypeError);
    const stream = streamOf<Uint8Array>([]);
    stream.getReader();
    assert.throws(() => parseSSE(stream), TypeError);
  });
});

describe("EventStreamInterpreter", () => {
  test("emits synchronously from push, for bytes and strings alike", () => {
    const messages: SSEMessage[] = [];
    const interpreter = new EventStreamInterpreter(
      undefined,
      (m) => messages.push(m),
    );
    interpreter.push(bytes("data: a\n"));
    assert.deepEqual(messages, []);
    interpreter.push("\ndata: b");
    assert.deepEqual(messages, [message("a")]);
    interpreter.push(bytes("\r\r"));
    assert.deepEqual(messages, [message("a"), message("b")]);
    interpreter.push("data: never dispatched\n");
    interpreter.end();
    assert.equal(messages.length, 2);
  });

  test("lastEventId is the last event ID string: committed by a dispatch, not by the id field alone (§9.2.6)", () => {
    const interpreter = new EventStreamInterpreter(
      { lastEventId: "seed" },
      () => {},
    );
    assert.equal(interpreter.lastEventId, "seed");
    interpreter.push("id: 1\ndata: x\n");
    assert.equal(interpreter.lastEventId, "seed");
    interpreter.push("\n");
    assert.equal(interpreter.lastEventId, "1");
    interpreter.push("id: 2\n");
    assert.equal(interpreter.lastEventId, "1");
    interpreter.push("\n");
    assert.equal(interpreter.lastEventId, "2");
    interpreter.push("id\nevent: x\n\n");
    assert.equal(interpreter.lastEventId, "");
    interpreter.push("id: 3\0\n\n");
    assert.equal(interpreter.lastEventId, "");
  });

  test("a push over the limit throws a RangeError", () => {
    const interpreter = new EventStreamInterpreter(
      { maxEventSize: 4 },
      () => {},
    );
    assert.throws(() => interpreter.push("data: 12345\n"), RangeError);
  });
});

describe("the benchmarks' corpus (bench/parse.ts measures what is checked here)", () => {
  // Every event as §9.2.6 dispatches it: the last event ID persists.
  function dispatched(events: ReturnType<typeof mixedCorpus>["events"]) {
    let lastEventId = "";
    return events.map(({ type, data, id }) => {
      if (id !== undefined) lastEventId = id;
      return { type, data, lastEventId, ...(id === undefined ? {} : { id }) };
    });
  }

  test("parseSSE reads the mixed corpus, cut mid-character, as its events", async () => {
    const { bytes, events } = mixedCorpus(256 * 1024);
    // 1021 bytes: a prime, so cuts fall in every place of a block.
    const chunks = [];
    for (let at = 0; at < bytes.length; at += 1021) {
      chunks.push(bytes.subarray(at, at + 1021));
    }
    const messages = await iterate(chunks);
    assert.ok(events.length > 1000);
    assert.deepEqual(messages, dispatched(events));
  });

  test("SSEDecoderStream reads the long line, byte by byte at its start", async () => {
    const { bytes, data } = longLine(1024 * 1024);
    const chunks = [...byteByByte(bytes.subarray(0, 64)), bytes.subarray(64)];
    assert.deepEqual(await decode(chunks), [message(data)]);
  });
});

/**
 * Decodes the concatenated `pieces` cut at `cuts` and checks messages,
 * retries and comments equal those of the whole stream decoded as text.
 */
async function cutsMatchWhole(
  pieces: Uint8Array[],
  cuts: number[],
): Promise<void> {
  const data = new Uint8Array(pieces.flatMap((p) => [...p]));
  const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(data);
  const seen: unknown[] = [];
  const options: SSEDecoderOptions = {
    onRetry: (ms) => seen.push(ms),
    onComment: (c) => seen.push(c),
  };
  const expected = await decode([text], options);
  const expectedSeen = seen.splice(0);
  assert.deepEqual(
    await decode(cut(data, cuts.map((n) => n % (data.length + 1))), options),
    expected,
  );
  assert.deepEqual(seen, expectedSeen);
}

describe("round trip: formatEvent then the decoder (property tests)", () => {
  // Units that stress the grammar: line ends, colons, spaces, NUL, BOMs and
  // characters of every UTF-8 length, besides arbitrary code points.
  const unit = fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 1 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "\r",
        "\n",
        "\r\n",
        ":",
        " ",
        "\0",
        "\uFEFF",
        "é",
        "€",
        "😀",
        "data",
        "id",
        "event: x",
      ),
    },
    {
      weight: 3,
      arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 1 }),
    },
  );
  const text = fc.string({ unit, maxLength: 12 });
  const singleLine = text.map((s) => s.replace(/[\r\n]/g, ""));
  const eventArb: fc.Arbitrary<SSEEvent> = fc.record({
    event: singleLine,
    id: fc.oneof(singleLine.map((s) => s.replace(/\0/g, "")), fc.nat()),
    data: text,
    comment: text,
    retry: fc.nat(),
  }, { requiredKeys: [] });
  const streamArb = fc.record({
    events: fc.array(fc.oneof(eventArb, text), { maxLength: 8 }),
    bom: fc.boolean(),
    cuts: fc.array(fc.nat(), { maxLength: 12 }),
  });

  // What §9.2.6 makes of the events formatEvent wrote, computed directly.
  function expect(events: (SSEEvent | string)[]) {
    const messages: SSEMessage[] = [];
    const retries: number[] = [];
    const comments: string[] = [];
    let lastEventId = "";
    for (const raw of events) {
      const event = typeof raw === "string" ? { data: raw } : raw;
      if (event.comment !== undefined) {
        comments.push(...event.comment.split(/\r\n|\r|\n/));
      }
      if (event.retry !== undefined) retries.push(event.retry);
      const id = event.id === undefined ? undefined : String(event.id);
      if (id !== undefined) lastEventId = id;
      if (event.data === undefined) continue;
      const m: SSEMessage = {
        type: event.event || "message",
        data: String(event.data).replace(/\r\n|\r/g, "\n"),
        lastEventId,
      };
      if (id !== undefined) m.id = id;
      messages.push(m);
    }
    return { messages, retries, comments };
  }

  async function check(
    events: (SSEEvent | string)[],
    chunks: Chunk[],
    via: "stream" | "parseSSE" = "stream",
  ): Promise<void> {
    const retries: number[] = [];
    const comments: string[] = [];
    const options: SSEDecoderOptions = {
      onRetry: (ms) => retries.push(ms),
      onComment: (c) => comments.push(c),
    };
    const messages = via === "stream"
      ? await decode(chunks, options)
      : await iterate(chunks, options);
    assert.deepEqual({ messages, retries, comments }, expect(events));
  }

  const wire = (events: (SSEEvent | string)[], bom: boolean) =>
    (bom ? "\uFEFF" : "") + events.map((e) => formatEvent(e)).join("");

  test("whole, byte by byte, and at random cuts of the UTF-8 bytes", async () => {
    await fc.assert(
      fc.asyncProperty(streamArb, async ({ events, bom, cuts }) => {
        const data = bytes(wire(events, bom));
        await check(events, [data]);
        await check(events, byteByByte(data));
        await check(events, cut(data, cuts.map((n) => n % (data.length + 1))));
      }),
      { numRuns: 200 },
    );
  });

  test("as strings, whole and at random cuts, through parseSSE too", async () => {
    await fc.assert(
      fc.asyncProperty(streamArb, async ({ events, bom, cuts }) => {
        const text = wire(events, bom);
        const points = [...new Set(cuts.map((n) => n % (text.length + 1)))]
          .sort((a, b) => a - b);
        const pieces: string[] = [];
        let start = 0;
        for (const point of [...points, text.length]) {
          pieces.push(text.slice(start, point));
          start = point;
        }
        await check(events, [text]);
        await check(events, pieces);
        await check(events, pieces, "parseSSE");
        const data = bytes(text);
        await check(
          events,
          cut(data, cuts.map((n) => n % (data.length + 1))),
          "parseSSE",
        );
      }),
      { numRuns: 200 },
    );
  });

  test("any bytes parse as their one-shot decoding does, at any cut", async () => {
    const piece = fc.oneof(
      fc.uint8Array({ maxLength: 6 }),
      fc.constantFrom(
        "data: ",
        "data:",
        "id: ",
        "event: ",
        "retry: 5",
        ": ",
        "\n",
        "\r",
        "\r\n",
        "\n\n",
        "\uFEFF",
        "é😀",
      ).map(bytes),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 16 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (pieces, cuts) => cutsMatchWhole(pieces, cuts),
      ),
      { numRuns: 200 },
    );
  });

  test("long streams of bytes parse as their one-shot decoding does, in chunks big and small", async () => {
    // Chunks of 512 bytes and more are decoded whole, smaller ones a line at
    // a time: cuts far apart and close together mix both, and characters of
    // every UTF-8 length straddle the cuts.
    const piece = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.constantFrom(
        "data: ",
        "data:",
        "id: ",
        "event: ",
        ": ",
        "\n",
        "\r",
        "\r\n",
        "\n\n",
        "\uFEFF",
      ).map(bytes),
      fc.tuple(
        fc.constantFrom("é", "€", "😀", "x"),
        fc.integer({ min: 20, max: 300 }),
      ).map(([c, n]) => bytes(c.repeat(n))),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 30, size: "max" }),
        fc.array(fc.nat(), { maxLength: 10, size: "max" }),
        (pieces, cuts) => cutsMatchWhole(pieces, cuts),
      ),
      { numRuns: 150 },
    );
  });

  test("any bytes in a data line decode as one UTF-8 decoder would, at any cut", async () => {
    const payload = fc.uint8Array({ maxLength: 24 }).map((a) =>
      a.map((b) => (b === 0x0a || b === 0x0d ? 0x80 : b))
    );
    await fc.assert(
      fc.asyncProperty(
        payload,
        fc.array(fc.nat(), { maxLength: 6 }),
        async (raw, cuts) => {
          const data = new Uint8Array([
            ...bytes("data: "),
            ...raw,
            ...bytes("\n\n"),
          ]);
          const expected = [
            message(new TextDecoder("utf-8", { ignoreBOM: true }).decode(raw)),
          ];
          assert.deepEqual(
            await decode(cut(data, cuts.map((n) => n % (data.length + 1)))),
            expected,
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("regressions", () => {
  test("maxEventSize does not depend on where a chunk ends (the line end does not count)", () => {
    for (const end of ["\n", "\r\n"]) {
      // A 6-unit line of 18 bytes (an unknown field), exactly at the limit.
      const bytes = new TextEncoder().encode(`€€€€€€${end}data:a${end}${end}`);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const messages: SSEMessage[] = [];
        const interpreter = new EventStreamInterpreter(
          { maxEventSize: 6 },
          (message) => messages.push(message),
        );
        interpreter.push(bytes.subarray(0, cut));
        interpreter.push(bytes.subarray(cut));
        assert.deepEqual(messages.map((m) => m.data), ["a"], `cut at ${cut}`);
      }
    }
  });

  test("leaving a parseSSE loop after the body failed does not throw", async () => {
    let fail!: (error: Error) => void;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("data: a\n\ndata: b\n\n"));
        fail = (error) => controller.error(error);
      },
    });
    for await (const message of parseSSE(body)) {
      assert.equal(message.data, "a");
      fail(new Error("connection reset"));
      break;
    }
  });
});
