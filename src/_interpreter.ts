/**
 * The parser of WHATWG HTML §9.2.6 "Event stream interpretation", put
 * together from its three steps: bytes to text (`_decode_text.ts`), text to
 * lines (`_lines.ts`), lines to events (`_fields.ts`). Everything that
 * parses a stream runs on {@linkcode Interpreter}. (Over ~150 lines: one
 * class whose methods are the algorithm's steps, each quoting it.)
 *
 * @module
 */

import type { SSEMessage } from "./types.ts";
import {
  checkCallback,
  checkOption,
  describe,
  isCount,
  isObject,
} from "./_checks.ts";
import { TextInput, type TextSink } from "./_decode_text.ts";
import { Lines } from "./_lines.ts";
import { Fields } from "./_fields.ts";

/**
 * Options for {@linkcode SSEDecoderStream} and {@linkcode parseSSE}.
 *
 * @example Resuming a stream and following its retry hints
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSSE, type SSEDecoderOptions } from "@ssekit/ssekit";
 *
 * let retry = 3000;
 * const options: SSEDecoderOptions = {
 *   lastEventId: "41", // the Last-Event-ID this connection resumed from
 *   onRetry: (ms) => {
 *     retry = ms;
 *   },
 *   onComment: (text) => assert.equal(text, "keep-alive"),
 * };
 * const body = ReadableStream.from([": keep-alive\nretry: 5000\ndata: hi\n\n"]);
 * for await (const message of parseSSE(body, options)) {
 *   assert.deepEqual([message.data, message.lastEventId], ["hi", "41"]);
 * }
 * assert.equal(retry, 5000);
 * ```
 */
export interface SSEDecoderOptions {
  /**
   * Called with the reconnection time (milliseconds) of every valid `retry`
   * field: one made of ASCII digits only.
   */
  onRetry?(ms: number): void;
  /**
   * Called with the text of every comment line (one starting with `:`),
   * after the colon and one leading space.
   */
  onComment?(text: string): void;
  /**
   * The last event id a resumed stream starts from, typically the one sent
   * as the `Last-Event-ID` header. Messages report it as `lastEventId` until
   * the stream sets another.
   *
   * @default {""}
   */
  lastEventId?: string;
  /**
   * The most a single line, and a single event's data, may hold, counted
   * in UTF-16 code units (JavaScript string length: never more than the
   * bytes received, and as many for ASCII). A line is measured without its
   * line end and an event's data as it would be dispatched. Going over
   * errors the stream with a `RangeError`. A line that never ends is caught
   * while it is buffered, so it cannot fill memory: buffered text never
   * exceeds the limit, and bytes of small chunks not decoded yet never
   * exceed three per unit of it. `Infinity` turns the limit off.
   *
   * @default {16777216} ({@linkcode DEFAULT_MAX_EVENT_SIZE}, 16 Mi units)
   */
  maxEventSize?: number;
}

/**
 * The default {@linkcode SSEDecoderOptions.maxEventSize}: 16 Mi UTF-16 code
 * units.
 *
 * @example Allowing a stream of large snapshots four times the default
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_EVENT_SIZE, parseSSE } from "@ssekit/ssekit";
 *
 * assert.equal(DEFAULT_MAX_EVENT_SIZE, 16 * 1024 * 1024);
 * const body = ReadableStream.from(["data: {}\n\n"]);
 * for await (const { data } of parseSSE(body, { maxEventSize: 4 * DEFAULT_MAX_EVENT_SIZE })) {
 *   assert.equal(data, "{}");
 * }
 * ```
 */
export const DEFAULT_MAX_EVENT_SIZE = 16_777_216;

// Whose options these are, in messages: parseSSE's, EventStreamInterpreter's
// and relaySSE's alike.
const OWNER = "SSE decoder";

function checkedLimit(maxEventSize: unknown): number {
  checkOption(
    typeof maxEventSize === "number",
    OWNER,
    "maxEventSize",
    "a number",
    maxEventSize,
  );
  checkOption(
    isCount(maxEventSize, 1) || maxEventSize === Infinity,
    OWNER,
    "maxEventSize",
    "a positive integer (UTF-16 code units) or Infinity",
    maxEventSize,
    RangeError,
  );
  return maxEventSize as number;
}

/**
 * One stream's parser: chunks of bytes or text in through `push`, each
 * dispatched message out through `emit`, synchronously. Internal: the
 * public {@linkcode EventStreamInterpreter} wraps it.
 */
export class Interpreter {
  readonly lines: Lines;
  readonly fields: Fields;
  readonly max: number;
  private readonly input: TextInput;

  /**
   * @param route Where decoded text goes; by default to `lines`. A relay
   * routes it through its own scan first (`relay/_verbatim.ts`).
   */
  constructor(
    options: SSEDecoderOptions | undefined,
    emit: (message: SSEMessage) => void,
    route?: TextSink,
  ) {
    if (options !== undefined && !isObject(options)) {
      throw new TypeError(
        `Invalid ${OWNER} options: expected an object or undefined, got ${
          describe(options)
        }`,
      );
    }
    const opts = options ?? {};
    const {
      onRetry,
      onComment,
      lastEventId = "",
      maxEventSize = DEFAULT_MAX_EVENT_SIZE,
    } = opts;
    checkCallback(OWNER, "onRetry", onRetry);
    checkCallback(OWNER, "onComment", onComment);
    checkOption(
      typeof lastEventId === "string",
      OWNER,
      "lastEventId",
      "a string",
      lastEventId,
    );
    const max = this.max = checkedLimit(maxEventSize);
    this.fields = new Fields(max, lastEventId, { emit, onRetry, onComment });
    this.lines = new Lines(max, this.fields);
    this.input = new TextInput(max, route ?? this.lines);
  }

  /** The last event ID string, as of the last dispatch. */
  get lastEventId(): string {
    return this.fields.lastEventId;
  }

  /** Whether the next text opens a line and an event. */
  get idle(): boolean {
    return this.lines.idle && this.fields.idle;
  }

  push(chunk: Uint8Array | string): void {
    this.input.push(chunk);
  }

  end(): void {
    // Held bytes go through the line limit as text would.
    this.input.end();
    this.lines.end();
    this.fields.end();
  }
}
