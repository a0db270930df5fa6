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
