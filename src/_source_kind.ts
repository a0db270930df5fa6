/**
 * The kinds of source a stream reads: how each is recognised, opened and
 * closed.
 *
 * @module
 */

import { describe, isThenable } from "./_checks.ts";
import { PushSource } from "./_body_shortcuts.ts";

// How a source is read: a ReadableStream through its reader, an async
// iterable or an iterable through its iterator, a hub's pushes as they
// come; "none" until it is opened. A string on the stream rather than an
// object of closures per stream: thousands of streams sit idle at once.
export type SourceKind = "none" | "reader" | "async" | "sync" | "pushes";

/** An opened source. */
export type SourceReader =
  | PushSource
  | ReadableStreamDefaultReader<unknown>
  | Iterator<unknown>
  | AsyncIterator<unknown>;

// Runs a cleanup whose failure has nowhere useful to go, without letting it
// become an unhandled rejection.
function quietly(cleanup: () => unknown): void {
  try {
    const result = cleanup();
    if (isThenable(result)) result.then(undefined, () => {});
  } catch {
    // The stream is over; there is no one left to tell.
  }
}

/** The kind of `source`; throws a TypeError if it is of none. */
export function sourceKind(source: unknown): SourceKind {
  const candidate = source as Record<PropertyKey, unknown> | null;
  if (source instanceof PushSource) return "pushes";
  if (typeof candidate?.getReader === "function") return "reader";
  if (typeof candidate?.[Symbol.asyncIterator] === "function") return "async";
  if (
    typeof source === "object" &&
    typeof candidate?.[Symbol.iterator] === "function"
  ) {
    return "sync";
  }
  throw new TypeError(
    `Invalid SSE source: expected an async iterable, an iterable, a ReadableStream or a function returning one, got ${
      describe(source)
    }`,
  );
}

/** Opens a source of the given kind for reading. */
export function openSource(kind: SourceKind, source: unknown): SourceReader {
  return kind === "reader"
    ? (source as ReadableStream<unknown>).getReader()
    : kind === "async"
    ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
    : kind === "pushes"
    ? source as PushSource
    : (source as Iterable<unknown>)[Symbol.iterator]();
}

/**
 * Closes a source: a stream's reader is cancelled, an iterator returned
 * (its `finally` runs), a hub's subscription ended.
 */
export function closeSource(
  kind: SourceKind,
  reader: SourceReader,
  reason: unknown,
): void {
  quietly(() =>
    kind === "reader"
      ? (reader as ReadableStreamDefaultReader<unknown>).cancel(reason)
      : (reader as Iterator<unknown>).return?.()
  );
}
