// relaySSE between a real upstream server and a real client on 127.0.0.1:
// pass-through, mapping, cancellation reaching the upstream, and failures
// reported in-band.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { openAIChunk } from "./support/corpus.ts";
import { streamOf } from "./support/streams.ts";
import { sleep, within } from "./support/time.ts";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import {
  connectSSE,
  createSSEStream,
  getLastEventId,
  relaySSE,
  type RelaySSEOptions,
} from "../mod.ts";
import { Interpreter, type SSEDecoderOptions } from "../src/_interpreter.ts";
import { RelayReader } from "../src/relay/_verbatim.ts";
import { formatEvent, formatHead } from "../src/encode.ts";
import type { SSEEvent, SSEMessage } from "../src/types.ts";
import { RawClient } from "./support/raw_client.ts";
import { serve, serverKinds, withServer } from "./support/server.ts";

/** A relay server in front of `upstreamUrl`, and a client reading it to the end. */
async function relayed(
  kind: (typeof serverKinds)[number],
  upstreamUrl: string,
  options: RelaySSEOptions = {},
): Promise<string> {
  const relay = await serve(
    (request) =>
      relaySSE((signal) => fetch(upstreamUrl, { signal }), {
        signal: request.signal,
        ...options,
      }),
    kind,
  );
  const client = new RawClient(relay.url);
  try {
    await within(client.ended, 10_000, "end of the relayed body");
    return client.body;
  } finally {
    client.close();
    await relay.close();
  }
}

/** A raw upstream that sends `head` and `chunks` then cuts the connection. */
async function cuttingUpstream(
  chunks: string[],
): Promise<{ url: string; server: Server }> {
  const server = createServer((socket: Socket) => {
    socket.once("data", () => {
      socket.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
      );
      for (const chunk of chunks) {
        socket.write(
          `${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`,
        );
      }
      setTimeout(() => socket.destroy(), 20);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    server,
  };
}

const OPENAI = [
  openAIChunk("chatcmpl-1", { role: "assistant" }),
  openAIChunk("chatcmpl-1", { content: "Hel" }),
  openAIChunk("chatcmpl-1", { content: "lo" }),
  openAIChunk("chatcmpl-1", {}, "stop"),
];

for (const kind of serverKinds) {
  describe(`relaySSE on ${kind}`, () => {
    test("passes messages through with their type, data and id", async () => {
      await withServer(kind, () =>
        new Response(
          "id: 1\ndata: a\n\nevent: note\ndata: two\ndata: lines\n\n: comment\nid: 2\nevent: x\ndata:\n\n",
          { headers: { "Content-Type": "text/event-stream" } },
        ), async (upstreamUrl) => {
        const body = await relayed(kind, upstreamUrl);
        assert.equal(
          body,
          ":\nid: 1\ndata: a\n\nevent: note\ndata: two\ndata: lines\n\nevent: x\nid: 2\ndata: \n\n",
        );
      });
    });

    test("a relayed stream resumes like a direct one: the upstream's retry reaches the client, the client's Last-Event-ID reaches the upstream (issue 12.3)", async () => {
      const asked: string[] = [];
      // Three events after the id it resumes from, then the end: a client
      // reconnects after the retry it was given.
      await withServer(kind, (request) => {
        const from = Number(getLastEventId(request) || 0);
        return createSSEStream(
          [1, 2, 3].map((n) => ({ id: from + n, data: `e${from + n}` })),
          { retry: 10 },
        );
      }, async (upstreamUrl) => {
        const relay = await serve(
          (request) =>
            relaySSE((signal, { lastEventId }) => {
              asked.push(lastEventId);
              return fetch(upstreamUrl, {
                signal,
                headers: lastEventId ? { "Last-Event-ID": lastEventId } : {},
              });
            }, {
              signal: request.signal,
              lastEventId: getLastEventId(request),
            }),
          kind,
        );
        const direct = new RawClient(relay.url);
        let client: ReturnType<typeof connectSSE> | undefined;
        try {
          await within(direct.ended, 5_000, "one relayed body");
          assert.match(direct.body, /^:\nretry: 10\n/);
          asked.length = 0;
          client = connectSSE(relay.url, { reconnect: { backoff: 0 } });
          const seen: string[] = [];
          for await (const message of client) {
            seen.push(`${message.lastEventId}:${message.data}`);
            if (seen.length === 9) break;
          }
          assert.deepEqual(
            seen,
            [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `${n}:e${n}`),
          );
          // A fourth connection may have started before the loop ended.
          assert.deepEqual(asked.slice(0, 3), ["", "3", "6"]);
        } finally {
          direct.close();
          client?.close();
          await relay.close();
        }
      });
    });

    test("map turns an OpenAI-style stream into token deltas and a done event", async () => {
      await withServer(
        kind,
        () =>
          createSSEStream([
            ...OPENAI.map((chunk) => ({ data: chunk })),
            "[DONE]",
          ]),
        async (upstreamUrl) => {
          const body = await relayed(kind, upstreamUrl, {
            map: async (message) => {
              await sleep(1);
              if (message.data === "[DONE]") return { event: "done", data: "" };
              const token = JSON.parse(message.data).choices[0].delta.content;
              return token === undefined ? undefined : token;
            },
          });
          assert.equal(
            body,
            ":\ndata: Hel\n\ndata: lo\n\nevent: done\ndata: \n\n",
          );
        },
      );
    });

    test("map may return several events, and invalid ones end the stream with an error", async () => {
      await withServer(kind, () =>
        new Response("data: a\n\ndata: b\n\n", {
          headers: { "Content-Type": "text/event-stream" },
        }), async (upstreamUrl) => {
        const body = await relayed(kind, upstreamUrl, {
          map: (message) =>
            message.data === "a"
              ? ["a1", { data: "a2" }]
              : { event: "bad\nname" },
          onError: (error) => ({ event: "error", data: (error as Error).name }),
        });
        assert.equal(
          body,
          ":\ndata: a1\n\ndata: a2\n\nevent: error\ndata: TypeError\n\n",
        );
      });
    });

    test("a client leaving closes the upstream connection within a second", async () => {
      let finished!: () => void;
      const upstreamFinished = new Promise<void>((resolve) =>
        finished = resolve
      );
      await withServer(kind, (request) =>
        createSSEStream(
          async function* () {
            try {
              for (let i = 0;; i++) {
                yield { data: `t${i}` };
                await sleep(20);
              }
            } finally {
              finished();
            }
          }(),
          { signal: request.signal },
        ), async (upstreamUrl) => {
        const relay = await serve(
          (request) =>
            relaySSE((signal) => fetch(upstreamUrl, { signal }), {
              signal: request.signal,
            }),
          kind,
        );
        try {
          const client = new RawClient(relay.url);
          await client.waitFor("data: t2\n\n");
          client.close();
          await within(
            upstreamFinished,
            1_000,
            "the upstream producer's finally",
          );
        } finally {
          await relay.close();
        }
      });
    });

    for (
      const [name, response] of [
        [
          "a 500 status",
          () => new Response("secret stack trace", { status: 500 }),
        ],
        [
          "a wrong content type",
          () =>
            new Response("{}", {
              headers: { "Content-Type": "application/json" },
            }),
        ],
      ] as const
    ) {
      test(`${name} upstream reaches the client as a generic error event`, async () => {
        await withServer(kind, response, async (upstreamUrl) => {
          let seen: unknown;
          const body = await relayed(kind, upstreamUrl, {
            onError: (error) => {
              seen = error;
              return { event: "error", data: "upstream failed" };
            },
          });
          assert.equal(body, ":\nevent: error\ndata: upstream failed\n\n");
          assert.equal((seen as Error).name, "SSEResponseError");
        });
      });
    }

    test("the default error event leaks nothing of the upstream", async () => {
      const original = console.error;
      console.error = () => {};
      try {
        await withServer(
          kind,
          () => new Response("secret stack trace", { status: 500 }),
          async (upstreamUrl) => {
            const body = await relayed(kind, upstreamUrl);
            assert.match(body, /^:\nevent: error\ndata: [^\n]+\n\n$/);
            assert.doesNotMatch(body, /secret|500/);
          },
        );
      } finally {
        console.error = original;
      }
    });

    test("an unreachable upstream reaches the client as an error event", async () => {
      const gone = await serve(() => new Response(), kind);
      await gone.close();
      const body = await relayed(kind, gone.url, {
        onError: () => ({ event: "error", data: "down" }),
      });
      assert.equal(body, ":\nevent: error\ndata: down\n\n");
    });

    test("a body cut mid-stream is an error, not a clean end", async () => {
      const { url, server } = await cuttingUpstream([
        "data: one\n\n",
        "data: tw",
      ]);
      try {
        const body = await relayed(kind, url, {
          onError: () => ({ event: "error", data: "cut" }),
        });
        assert.equal(body, ":\ndata: one\n\nevent: error\ndata: cut\n\n");
      } finally {
        server.close();
      }
    });

    test("timeout bounds the whole relay", async () => {
      await withServer(kind, (request) =>
        createSSEStream(
          async function* () {
            yield "early";
            await sleep(10_000);
          }(),
          { signal: request.signal },
        ), async (upstreamUrl) => {
        const started = Date.now();
        const body = await relayed(kind, upstreamUrl, {
          timeout: 300,
          onError: (error) => ({ event: "error", data: (error as Error).name }),
        });
        assert.equal(
          body,
          ":\ndata: early\n\nevent: error\ndata: TimeoutError\n\n",
        );
        assert.ok(Date.now() - started < 5_000);
      });
    });
  });
}

test("relaySSE rejects a bad timeout", () => {
  assert.throws(() => relaySSE(new Response(""), { timeout: 0 }), {
    name: "RangeError",
    message:
      'Invalid relaySSE option "timeout": expected milliseconds > 0, got number 0',
  });
});

test("a slow async map never holds back the events mapped before it", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const upstream = new Response("data: a\n\ndata: b\n\n", {
    headers: { "Content-Type": "text/event-stream" },
  });
  const reader = relaySSE(upstream, {
    map: async (message) => {
      if (message.data === "b") await gate;
      return message.data;
    },
  }).body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const readUntil = async (needle: string) => {
    while (!text.includes(needle)) {
      const { done, value } = await reader.read();
      assert.ok(!done, `ended before ${JSON.stringify(needle)}: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
  };
  try {
    await within(readUntil("data: a\n\n"), 5_000, "event a");
    assert.equal(text, ":\ndata: a\n\n");
    release();
    await within(readUntil("data: b\n\n"), 5_000, "event b");
  } finally {
    release();
    await reader.cancel();
  }
});

// A relay reads events already in canonical form by a scan of their text
// (src/relay/_verbatim.ts) rather than through the parser: without a map it
// hands them on as the text they arrived as (the verbatim path), with one
// it makes their messages itself, each with the text of its data lines
// (its tail). The output must be exactly what formatting each message the
// parser reads would give, whatever the stream holds and however it is cut.

/** What a pass-through relay sends for a message: its type, data and id. */
function passThrough(message: SSEMessage): SSEEvent {
  return {
    event: message.type === "message" ? undefined : message.type,
    data: message.data,
    id: message.id,
  };
}

function formatted(message: SSEMessage): string {
  return formatEvent(passThrough(message));
}

// Events near the canonical form (`event: T`, `id: I`, `data: D` lines in
// that order, one space each) and off it by one detail: a value formatting
// would change, a missing space, another field, fields out of order, or a
// CR line end.
const lineEnd = fc.constantFrom("\n", "\n", "\n", "\n", "\r\n", "\r");
const eventArb = fc.record({
  event: fc.option(
    fc.constantFrom(
      "event: update",
      "event: message",
      "event: ",
      "event:",
      "event:tight",
      "event:  spaced",
    ),
  ),
  id: fc.option(
    fc.constantFrom("id: 7", "id: ", "id:", "id:8", "id: a\0b", "id: é"),
  ),
  data: fc.array(
    fc.constantFrom(
      "data: x",
      'data: {"a":1}',
      "data: ",
      "data: message",
      "data: é€😀",
      "data: \uFEFF",
      "data:",
      "data:x",
      "data:  two spaces",
      "data",
    ),
    { maxLength: 3 },
  ),
  // Inserted among the fields, or nothing.
  other: fc.option(
    fc.oneof(
      fc.constantFrom(
        "retry: 10",
        "retry:007",
        "retry: 99999999999999999999",
        "retry: 1x",
        ": comment",
        ":",
        "other: field",
        "id",
      ),
      fc.string({ maxLength: 12 }),
    ),
  ),
  at: fc.nat(4),
  reversed: fc.boolean(),
  ends: fc.array(lineEnd, { minLength: 7, maxLength: 7 }),
  // Mostly ended by its blank line.
  blank: fc.oneof(
    { weight: 5, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
});
const streamArb: fc.Arbitrary<Stream> = fc.record({
  bom: fc.boolean(),
  events: fc.array(eventArb, { maxLength: 12 }),
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
  asBytes: fc.boolean(),
}).map(({ bom, events, cuts, asBytes }) => {
  let text = bom ? "\uFEFF" : "";
  for (const e of events) {
    const lines: string[] = [e.event, e.id, ...e.data].filter((l) =>
      l !== null
    );
    if (e.reversed) lines.reverse();
    if (e.other !== null) lines.splice(e.at, 0, e.other);
    if (e.blank) lines.push("");
    lines.forEach((line, i) => text += line + e.ends[i]);
  }
  return { text, cuts, asBytes };
});

interface Stream {
  text: string;
  cuts: number[];
  asBytes: boolean;
}

function cut({ text, cuts, asBytes }: Stream): (Uint8Array | string)[] {
  const whole = asBytes ? new TextEncoder().encode(text) : text;
  const at = [...new Set(cuts.map((n) => n % (whole.length + 1)))]
    .sort((a, b) => a - b);
  const chunks: (Uint8Array | string)[] = [];
  let from = 0;
  for (const to of [...at, whole.length]) {
    chunks.push(whole.slice(from, to));
    from = to;
  }
  return chunks;
}

/** Characters each fast path handed on, so a run can show it was taken. */
const taken = { verbatim: 0, tails: 0 };

/**
 * The relay's text per chunk: each message formatted, `retry` fields and
 * id-only blocks as they came. "plain" reads every event with the parser;
 * "verbatim" and "tails" scan canonical events first, without and with a
 * map, the one sending them as their text, the other sending the tail of
 * each message after its formatted head.
 */
function relayText(
  chunks: (Uint8Array | string)[],
  options: SSEDecoderOptions,
  mode: "plain" | "verbatim" | "tails",
): {
  text: string[];
  lastEventId: string[];
  messages: SSEMessage[];
  error?: string;
} {
  let text = "";
  const out: string[] = [];
  const lastEventId: string[] = [];
  const messages: SSEMessage[] = [];
  const opts = {
    ...options,
    onRetry: (ms: number) =>
      text += `retry: ${Math.min(ms, Number.MAX_SAFE_INTEGER)}\n`,
  };
  const message = (m: SSEMessage, tail?: string) => {
    messages.push(m);
    if (tail === undefined) return text += formatted(m);
    taken.tails += tail.length;
    text += formatHead(passThrough(m)) + tail;
  };
  const idOnly = (id: string) => text += formatEvent({ id });
  let parser: Interpreter | RelayReader;
  if (mode === "plain") {
    parser = new Interpreter(opts, message);
    parser.fields.idOnly = idOnly;
  } else {
    parser = new RelayReader(opts, {
      message,
      idOnly,
      verbatim: mode === "verbatim"
        ? (run) => {
          taken.verbatim += run.length;
          text += run;
        }
        : undefined,
    });
  }
  try {
    for (const chunk of chunks) {
      parser.push(chunk);
      out.push(text);
      lastEventId.push(parser.lastEventId);
    }
    parser.end();
  } catch (error) {
    return {
      text: [...out, text],
      lastEventId,
      messages,
      error: String(error),
    };
  }
  return { text: out, lastEventId, messages };
}

test("canonical events go to the verbatim path as their text, others as messages", () => {
  const runs: string[] = [];
  const messages: string[] = [];
  const reader = new RelayReader({}, {
    message: (message) => messages.push(message.data),
    verbatim: (run) => runs.push(run),
  });
  reader.push("event: x\nid: 1\ndata: a\n\ndata: b\n\ndata:c\n\n");
  reader.end();
  assert.deepEqual(runs, ["event: x\nid: 1\ndata: a\n\ndata: b\n\n"]);
  assert.deepEqual(messages, ["c"]);
  assert.equal(reader.lastEventId, "1");
});

/**
 * Checks that a fast path's relay text equals the plain parser's for any
 * stream and cut, and that the path was taken: equal output proves nothing
 * if every event took the message path.
 */
function assertSameAsPlain(mode: "verbatim" | "tails"): void {
  taken[mode] = 0;
  fc.assert(
    fc.property(
      streamArb,
      fc.constantFrom(undefined, 4, 9, 24, 64),
      (stream, maxEventSize) => {
        const chunks = cut(stream);
        const options = { maxEventSize, lastEventId: "start" };
        const fast = relayText(chunks, options, mode);
        const plain = relayText(chunks, options, "plain");
        // Runs sent as text make no messages: their messages go unchecked.
        if (mode === "verbatim") fast.messages = plain.messages;
        assert.deepEqual(fast, plain);
      },
    ),
    { numRuns: 3000 },
  );
  assert.ok(taken[mode] > 0, `no event took the ${mode} path`);
}

test("the verbatim path sends exactly what formatting the messages would", () => {
  assertSameAsPlain("verbatim");
});

test("the scan of a mapped relay reads the parser's messages, and their tails are what formatting their data gives", () => {
  assertSameAsPlain("tails");
});

test("a pass-through relay sends exactly what formatting the messages would", async () => {
  await fc.assert(
    fc.asyncProperty(streamArb, async (stream) => {
      const chunks = cut({ ...stream, asBytes: true }) as Uint8Array[];
      const upstream = new Response(streamOf(chunks), {
        headers: { "Content-Type": "text/event-stream" },
      });
      const relayed = await relaySSE(upstream, { keepAlive: false }).text();
      const expected = relayText(chunks, {}, "plain").text.at(-1);
      assert.equal(relayed, ":\n" + expected);
    }),
    { numRuns: 300 },
  );
});

// A relay with a map sends the upstream's own text for the `data:` lines of
// events that keep their message's data (the interpreter's `tail`),
// formatting only the rest. Streams of many events, cut anywhere, through
// maps that keep, rename, change, multiply or drop events: the output must
// be exactly what formatting every mapped message would give.

type RelayMap = NonNullable<RelaySSEOptions["map"]>;
const maps: Record<string, (() => RelayMap) | undefined> = {
  "no map": undefined,
  "renaming the event": () => (m) => ({ event: "chunk", data: m.data }),
  "returning the data": () => (m) => m.data,
  "setting every field before the data": () => (m) => ({
    comment: "ü😀\uD800",
    event: "é" + m.type,
    id: m.id,
    retry: 5,
    data: m.data,
  }),
  "changing every other event": () => {
    let i = 0;
    return (m) => i++ % 2 ? { data: m.data + "!" } : { data: m.data };
  },
  "to two events":
    () => (m) => [{ data: m.data }, { event: "again", data: m.data }],
  "dropping every other event": () => {
    let i = 0;
    return (m) => i++ % 2 ? undefined : m.data;
  },
  "async every third event": () => {
    let i = 0;
    return (m) => i++ % 3 ? m.data : Promise.resolve({ data: m.data });
  },
};

/** What a client reads: events as (type, data, lastEventId), and retries. */
type Seen = (readonly [string, string, string] | readonly ["retry", number])[];

function seenIn(
  text: string | Uint8Array,
): { seen: Seen; lastEventId: string } {
  const seen: Seen = [];
  const client = new Interpreter(
    { onRetry: (ms) => seen.push(["retry", ms]) },
    (m) => seen.push([m.type, m.data, m.lastEventId]),
  );
  client.push(text);
  client.end();
  return { seen, lastEventId: client.lastEventId };
}

/**
 * What a client of the upstream sees, mapped: each event `map` makes of a
 * message, as a client reads it, with the message's last event id unless
 * the event brings its own.
 */
async function expectedSeen(
  bytes: Uint8Array,
  map: RelayMap | undefined,
): Promise<{ seen: Seen; lastEventId: string }> {
  const items: (SSEMessage | number)[] = [];
  const upstream = new Interpreter(
    { onRetry: (ms) => items.push(ms) },
    (message) => items.push(message),
  );
  upstream.push(bytes);
  upstream.end();
  const seen: Seen = [];
  for (const item of items) {
    if (typeof item === "number") {
      seen.push(["retry", Math.min(item, Number.MAX_SAFE_INTEGER)]);
      continue;
    }
    const result = map ? await map(item) : {
      event: item.type === "message" ? undefined : item.type,
      data: item.data,
      id: item.id,
    };
    if (result === undefined) continue;
    for (const event of Array.isArray(result) ? result : [result]) {
      const id = typeof event === "object" && event.id !== undefined
        ? String(event.id)
        : item.lastEventId;
      for (const entry of seenIn(formatEvent(event)).seen) {
        seen.push(entry.length === 2 ? entry : [entry[0], entry[1], id]);
      }
    }
  }
  return { seen, lastEventId: upstream.lastEventId };
}

// The property of issue 12.2: for every upstream byte stream, however it is
// cut, a client of the relay sees the same events, each with the same last
// event id, as a client of the upstream (mapped by the same map), and ends
// holding the same last event id. WHATWG "dispatch the event", step 1
// commits an id-only block's id before step 2 returns on its empty data.
for (const [name, makeMap] of Object.entries(maps)) {
  test(`a client of a relay ${name} sees what a client of the upstream sees, ids included`, async () => {
    await fc.assert(
      fc.asyncProperty(
        streamArb,
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (stream, repeat, cuts) => {
          const text = stream.text.repeat(repeat);
          const chunks = cut({ text, cuts, asBytes: true }) as Uint8Array[];
          const upstream = new Response(streamOf(chunks), {
            headers: { "Content-Type": "text/event-stream" },
          });
          const relayed = await relaySSE(upstream, {
            keepAlive: false,
            map: makeMap?.(),
          }).text();
          const expected = await expectedSeen(
            new TextEncoder().encode(text),
            makeMap?.(),
          );
          assert.deepEqual(seenIn(relayed), expected);
        },
      ),
      { numRuns: 150 },
    );
  });
}

test("a relay forwards an id-only block's id with the next event (issue 12.2)", async () => {
  const body = "id: 1\ndata: a\n\nid: 7\n\ndata: b\n\n";
  for (const map of [undefined, (m: SSEMessage) => ({ data: m.data })]) {
    const relayed = await relaySSE(
      new Response(body, { headers: { "Content-Type": "text/event-stream" } }),
      { keepAlive: false, map },
    ).text();
    assert.deepEqual(seenIn(relayed).seen, [
      ["message", "a", "1"],
      ["message", "b", "7"],
    ]);
  }
});

test("a mapped relay brings its client to the upstream's id when the map drops a message, and leaves a map's own ids alone", async () => {
  const body = "id: 1\ndata: a\n\nid: 2\ndata: skip\n\n";
  const dropped = await relaySSE(
    new Response(body, { headers: { "Content-Type": "text/event-stream" } }),
    {
      keepAlive: false,
      map: (m) => m.data === "skip" ? undefined : { data: m.data },
    },
  ).text();
  assert.deepEqual(seenIn(dropped), {
    seen: [["message", "a", "1"]],
    lastEventId: "2",
  });
  let n = 100;
  const own = await relaySSE(
    new Response(body, { headers: { "Content-Type": "text/event-stream" } }),
    { keepAlive: false, map: (m) => ({ id: n++, data: m.data }) },
  ).text();
  assert.deepEqual(seenIn(own), {
    seen: [["message", "a", "100"], ["message", "skip", "101"]],
    lastEventId: "101",
  });
});

test("a relay does not format again the data of an event that keeps it (README)", async () => {
  // Formatting searches data for line breaks; the upstream's text of the
  // data line needs no search. Searches of the data strings are counted.
  const data = ["first-payload", "second-payload"];
  const upstream = new Response(
    `data: ${data[0]}\n\nevent: x\ndata: ${data[1]}\n\n`,
    { headers: { "Content-Type": "text/event-stream" } },
  );
  const { indexOf } = String.prototype;
  let searches = 0;
  String.prototype.indexOf = function (
    this: string,
    ...args: Parameters<typeof indexOf>
  ) {
    if (data.includes(String(this))) searches++;
    return indexOf.apply(this, args);
  };
  let relayed: string;
  try {
    relayed = await relaySSE(upstream, {
      keepAlive: false,
      map: (message) => ({ event: "renamed", data: message.data }),
    }).text();
  } finally {
    String.prototype.indexOf = indexOf;
  }
  assert.equal(
    relayed,
    `:\nevent: renamed\ndata: ${data[0]}\n\nevent: renamed\ndata: ${
      data[1]
    }\n\n`,
  );
  assert.equal(searches, 0);
});

test("a mapped relay's scan gives a canonical event's message the text of its data lines", () => {
  const tails: (string | undefined)[] = [];
  const reader = new RelayReader({}, {
    message: (_, tail) => tails.push(tail),
  });
  reader.push(
    "data: a\n\ndata:b\n\nevent: x\nid: 1\ndata:  c\n\n" +
      "data: d\ndata: e\n\ndata: f\r\n\r\ndata: \u00e9\n\nid: 1\nevent: x\ndata: g\n\n",
  );
  reader.end();
  assert.deepEqual(tails, [
    "data: a\n\n",
    undefined, // No space: formatting adds one.
    "data:  c\n\n", // The data starts with a space, kept.
    "data: d\ndata: e\n\n",
    undefined, // CRLF: formatting ends lines with LF.
    "data: \u00e9\n\n",
    undefined, // Fields out of order: left to the parser.
  ]);
});
