/**
 * The wire encoder: {@linkcode formatEvent} turns one event into spec-exact
 * text, {@linkcode SSEEncoderStream} does it for a stream.
 *
 * The format is the one the WHATWG HTML standard's "interpreting an event
 * stream" algorithm reads: `field: value` lines, CR / LF / CRLF ending lines,
 * a blank line dispatching the event. (Over ~150 lines: two public APIs
 * with their documentation over one formatting routine.)
 *
 * @module
 */

import type { SSEEvent } from "./types.ts";
import { describe } from "./_checks.ts";

/**
 * Options for {@linkcode formatEvent} and {@linkcode SSEEncoderStream}.
 *
 * @example Data serialized as YAML-ish text
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatEvent, type FormatEventOptions } from "@ssekit/ssekit";
 *
 * const options: FormatEventOptions = {
 *   serialize: (data) => Object.entries(data as object).map(([k, v]) => `${k}: ${v}`).join("\n"),
 * };
 * assert.equal(formatEvent({ data: { a: 1, b: 2 } }, options), "data: a: 1\ndata: b: 2\n\n");
 * ```
 */
export interface FormatEventOptions {
  /**
   * Turns non-string `data` into text. It must return a string; CR and LF in
   * it are split into `data:` lines like any string data.
   *
   * @default {JSON.stringify}
   */
  serialize?: (data: unknown) => string;
}

const LINE_BREAK = /\r\n|\r|\n/g;

function lines(prefix: string, text: string): string {
  // Most payloads are one line: skip the regular expression for them.
  if (text.indexOf("\n") === -1 && text.indexOf("\r") === -1) {
    return prefix + text + "\n";
  }
  const separator = "\n" + prefix;
  return prefix +
    (text.indexOf("\r") === -1
      ? text.replaceAll("\n", separator)
      : text.replace(LINE_BREAK, separator)) +
    "\n";
}

function invalid(field: string, problem: string, value: unknown): TypeError {
  return new TypeError(
    `Invalid SSE event field "${field}": ${problem}, got ${describe(value)}`,
  );
}

function hasLineBreak(text: string): boolean {
  return text.indexOf("\n") !== -1 || text.indexOf("\r") !== -1;
}

/**
 * Formats one event as spec-exact `text/event-stream` text.
 *
 * `data` is split on CR, LF and CRLF into one `data:` line each (an empty
 * string still sends one `data:` line); comments likewise become one `:`
 * line each. An event with `data`, `event` or `id` ends with the blank line
 * that dispatches it; a comment- or retry-only event does not, so it never
 * dispatches anything on its own.
 *
 * Fields that could inject other fields are rejected rather than escaped:
 * CR or LF in `event` or `id`, NUL in `id`, and a `retry` that is not a
 * non-negative safe integer throw a `TypeError` naming the field.
 *
 * @example Formatting an event
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatEvent } from "@ssekit/ssekit";
 *
 * assert.equal(
 *   formatEvent({ event: "update", id: 7, data: "line 1\nline 2" }),
 *   "event: update\nid: 7\ndata: line 1\ndata: line 2\n\n",
 * );
 * assert.equal(formatEvent("hello"), "data: hello\n\n");
 * ```
 *
 * @param event The event, or a string meaning `{ data: string }`.
 * @param options How to serialize non-string data.
 * @returns The event's text, ready to be written to the stream.
 * @throws {TypeError} When a field is invalid or `serialize` returns a non-string.
 */
export function formatEvent(
  event: SSEEvent | string,
  options?: FormatEventOptions,
): string {
  if (typeof event === "string") {
    // The hot path: a one-line token, built with a single concatenation.
    return event.indexOf("\n") === -1 && event.indexOf("\r") === -1
      ? "data: " + event + "\n\n"
      : lines("data: ", event) + "\n";
  }
  if (typeof event !== "object" || event === null) {
    throw new TypeError(
      `Invalid SSE event: expected a string or an object with data, event, id, retry or comment, got ${
        describe(event)
      }`,
    );
  }
  const head = formatHead(event);
  const data = event.data;
  // The one-line payload, or undefined when the data needs line splitting.
  let line: string | undefined;
  let block = "";
  if (data !== undefined) {
    if (typeof data === "string") {
      if (hasLineBreak(data)) block = lines("data: ", data);
      else line = data;
    } else {
      const serialize = options?.serialize;
      const payload: unknown = serialize
        ? serialize(data)
        : JSON.stringify(data);
      if (typeof payload !== "string") {
        throw invalid("data", "serialize must return a string", payload);
      }
      // JSON.stringify escapes CR and LF, so its output is one line.
      if (serialize && hasLineBreak(payload)) block = lines("data: ", payload);
      else line = payload;
    }
  }
  if (line !== undefined) return head + "data: " + line + "\n\n";
  if (data !== undefined) return head + block + "\n";
  // Without data, an event or id still dispatches (with empty data).
  return event.event !== undefined || event.id !== undefined
    ? head + "\n"
    : head;
}

// The last event type found valid, and its line: a stream sends a few
// types over and over, and each is searched for line breaks and formatted
// once in a row. The same line is then the same string, cheap to compare.
let validType = "";
let typeLine = "event: \n";

/**
 * The lines of an event that come before its data (comment, `event`, `id`,
 * `retry`), checked as {@linkcode formatEvent} checks them. Internal: the
 * relay formats these and reuses the upstream's text for the data.
 */
export function formatHead(event: SSEEvent): string {
  const { event: type, id, retry, comment } = event;
  // Fields are checked in wire order, so the first bad one is reported.
  let head = "";
  if (comment !== undefined) {
    if (typeof comment !== "string") {
      throw invalid("comment", "it must be a string", comment);
    }
    head = lines(": ", comment);
  }
  if (type !== undefined) {
    if (type !== validType) {
      if (typeof type !== "string" || hasLineBreak(type)) {
        throw invalid("event", "it must be a string without CR or LF", type);
      }
      validType = type;
      typeLine = "event: " + type + "\n";
    }
    head += typeLine;
  }
  if (id !== undefined) {
    // A finite number's text never has CR, LF or NUL: only strings are
    // checked.
    if (
      !(typeof id === "number" && Number.isFinite(id)) &&
      (typeof id !== "string" || hasLineBreak(id) || id.indexOf("\0") !== -1)
    ) {
      throw invalid(
        "id",
        "it must be a finite number or a string without CR, LF or NUL",
        id,
      );
    }
    head += "id: " + id + "\n";
  }
  if (retry !== undefined) {
    if (!Number.isSafeInteger(retry) || retry < 0) {
      throw invalid(
        "retry",
        "it must be a non-negative safe integer (milliseconds)",
        retry,
      );
    }
    head += "retry: " + retry + "\n";
  }
  return head;
}

/**
 * A `TransformStream` from events (objects or strings) to the UTF-8 bytes
 * of `text/event-stream`, for custom pipelines. An invalid event errors the
 * stream with the `TypeError` {@linkcode formatEvent} throws.
 *
 * `createSSEStream` is the better choice for a `Response`: it coalesces
 * events, sends keep-alives and handles errors and cancellation.
 *
 * @example Encoding a stream of events
 * ```ts
 * import assert from "node:assert/strict";
 * import { SSEEncoderStream } from "@ssekit/ssekit";
 *
 * const body = ReadableStream.from([{ event: "tick", data: 1 }, "done"])
 *   .pipeThrough(new SSEEncoderStream());
 * const response = new Response(body, {
 *   headers: { "Content-Type": "text/event-stream; charset=utf-8" },
 * });
 * assert.equal(await response.text(), "event: tick\ndata: 1\n\ndata: done\n\n");
 * ```
 */
export class SSEEncoderStream
  extends TransformStream<SSEEvent | string, Uint8Array> {
  /**
   * Creates the stream.
   *
   * @param options How to serialize non-string data.
   */
  constructor(options?: FormatEventOptions) {
    const encoder = new TextEncoder();
    super({
      transform(event, controller) {
        const text = formatEvent(event, options);
        if (text !== "") controller.enqueue(encoder.encode(text));
      },
    });
  }
}
