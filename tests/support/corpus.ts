// The events the benchmarks send and the tests check, made in one place:
// what a benchmark measures is what a test has shown ssekit gets right.
// Nothing here needs node:*, so the browser and workerd bundles of the core
// tests use it too.

/** An 8-byte token, the smallest event of an LLM stream. */
export const TOKEN = "tok_1234";

/** 4 KiB of 79-character lines: the shape of a log tail or a code block. */
export const MULTILINE = Array.from(
  { length: 52 },
  (_, line) =>
    Array.from(
      { length: 79 },
      (_, column) => String.fromCharCode(33 + (line * 7 + column) % 94),
    ).join(""),
).join("\n").slice(0, 4096);

/**
 * The `data` of an OpenAI-style `chat.completion.chunk` (as an object, to
 * be serialized): `delta` is `{ role }`, `{ content }` or `{}` with
 * `finish` set.
 */
export function openAIChunk(
  id: string,
  delta: object,
  finish: string | null = null,
  { model = "fake-gpt", created = Math.floor(Date.now() / 1000) } = {},
): Record<string, unknown> {
  return {
    id,
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
}

/** Event `index` of a ~200-byte JSON stream with an event name and an id. */
export function jsonEvent(index: number): {
  event: string;
  id: number;
  data: Record<string, unknown>;
} {
  return {
    event: "chunk",
    id: index,
    data: {
      id: "chatcmpl-bench",
      seq: index,
      model: "bench-model-7b",
      created: 1700000000,
      choices: [{
        index: 0,
        delta: { content: "The quick brown fox jumps over" },
        finish_reason: null,
      }],
      usage: { tokens: index },
    },
  };
}

/** `count` events made by `event`, as an async source of a stream. */
export async function* generate<T>(
  event: (index: number) => T,
  count: number,
): AsyncGenerator<T> {
  for (let index = 0; index < count; index++) yield event(index);
}

/** An event as an `EventSource` dispatches it; `id` only where it is set. */
export interface WireEvent {
  type: string;
  data: string;
  id?: string;
}

/** Non-ASCII texts of 2-, 3- and 4-byte UTF-8 characters. */
export const UTF8_TEXTS: readonly string[] = [
  "héllo wörld, naïve café",
  "日本語のテキストです",
  "emoji 🎉🚀 and “quotes” — dashes",
  "Ελληνικά και русский текст",
  "한국어 텍스트 ✓ ✗ ±",
];

/**
 * Block `index` of the mixed stream (the parse benchmark's corpus), as
 * wire text and the event it dispatches (none for a comment-only block):
 * tokens, JSON with a type and an id, multi-line data, comments, UTF-8.
 */
export function mixedBlock(index: number): { text: string; event?: WireEvent } {
  switch (index % 8) {
    case 0:
    case 3:
      return {
        text: `data: tok_${index}\n\n`,
        event: { type: "message", data: `tok_${index}` },
      };
    case 6:
      // No space after the colon.
      return {
        text: `data:tok_${index}\n\n`,
        event: { type: "message", data: `tok_${index}` },
      };
    case 1: {
      const data = JSON.stringify({
        id: index,
        user: `user_${index % 997}`,
        score: (index * 7919) % 10_000 / 100,
        tags: ["alpha", "beta"],
        ok: index % 2 === 0,
      });
      return {
        text: `event: update\nid: ${index}\ndata: ${data}\n\n`,
        event: { type: "update", data, id: String(index) },
      };
    }
    case 2: {
      const lines = [0, 1, 2, 3].map((line) =>
        `line ${line} of event ${index}: lorem ipsum dolor sit amet`
      );
      return {
        text: lines.map((line) => `data: ${line}\n`).join("") + "\n",
        event: { type: "message", data: lines.join("\n") },
      };
    }
    case 4: {
      const data = `{"done":${index % 100},"total":100}`;
      return {
        text: `: heartbeat ${index}\nevent: progress\ndata: ${data}\n\n`,
        event: { type: "progress", data },
      };
    }
    case 5: {
      const data = `${UTF8_TEXTS[(index >> 3) % UTF8_TEXTS.length]} ${index}`;
      return {
        text: `id: u${index}\ndata: ${data}\n\n`,
        event: { type: "message", data, id: `u${index}` },
      };
    }
    default:
      return { text: ": keep-alive\n\n" };
  }
}

function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Surrogate pairs: 2 units, 4 bytes.
    if (c >= 0x80) bytes += c < 0x800 || (c >= 0xd800 && c < 0xe000) ? 1 : 2;
  }
  return bytes;
}

/**
 * Whole blocks of {@linkcode mixedBlock}, at least `size` bytes of them,
 * and the events they dispatch.
 */
export function mixedCorpus(size: number): {
  bytes: Uint8Array<ArrayBuffer>;
  blocks: number;
  events: WireEvent[];
} {
  const pieces: string[] = [];
  const events: WireEvent[] = [];
  for (let index = 0, bytes = 0; bytes < size; index++) {
    const { text, event } = mixedBlock(index);
    pieces.push(text);
    bytes += utf8Length(text);
    if (event) events.push(event);
  }
  return {
    bytes: new TextEncoder().encode(pieces.join("")),
    blocks: pieces.length,
    events,
  };
}

/** One event whose single data line, of mixed UTF-8, is about `size` bytes. */
export function longLine(size: number): {
  bytes: Uint8Array<ArrayBuffer>;
  data: string;
} {
  const unit = "0123456789abcdef ".repeat(14) + "日本語 🎉 é";
  const data = unit.repeat(Math.ceil(size / utf8Length(unit)));
  return { bytes: new TextEncoder().encode(`data: ${data}\n\n`), data };
}
