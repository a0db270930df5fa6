/**
 * The wire decoder: {@linkcode SSEDecoderStream} turns `text/event-stream`
 * bytes (or text) into {@linkcode SSEMessage}s, {@linkcode parseSSE} does it
 * for a `Response` or a `ReadableStream` as an async iterator, and
 * {@linkcode EventStreamInterpreter} is the state machine under both, for
 * code that does its own I/O.
 *
 * All follow the WHATWG HTML standard's "interpreting an event stream"
 * algorithm (§9.2.6) exactly, so they see what a browser's `EventSource`
 * would: the same line ends, fields, `lastEventId` and dispatch rules.
 *
 * @module
 */

import type { SSEMessage } from "./types.ts";
import { describe } from "./_checks.ts";
import {
  checkEvents,
  decodeMessages,
  type SSEEventMap,
  type TypedReadOptions,
  type TypedSSEMessage,
} from "./events.ts";

// Re-exported so this module's documentation stands on its own.
export type { SSEMessage };

/** Options for {@linkcode SSEDecoderStream} and {@linkcode parseSSE}. */
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

/** The default {@linkcode SSEDecoderOptions.maxEventSize}: 16 Mi UTF-16 code units. */
export const DEFAULT_MAX_EVENT_SIZE = 16_777_216;

const LF = 10;
const CR = 13;
const SPACE = 32;
const COLON = 58;
const BOM = 0xfeff;
// Chunks shorter than this are scanned for line ends before decoding.
const SMALL_CHUNK = 512;

function callback<T>(
  options: SSEDecoderOptions,
  name: "onRetry" | "onComment",
): T | undefined {
  const value = options[name];
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(
      `Invalid ${name} option: expected a function or undefined, got ${
        describe(value)
      }`,
    );
  }
  return value as T | undefined;
}

function tooBig(what: string, limit: number): RangeError {
  return new RangeError(
    `SSE ${what} exceeds maxEventSize (${limit} UTF-16 code units); raise the maxEventSize option to accept larger events`,
  );
}

/**
 * The state machine of §9.2.6 "interpreting an event stream": text or bytes
 * in, dispatched messages out through `emit`. Everything public runs on it.
 *
 * Internal: not exported from the package. Given `verbatim`, it serves a
 * pass-through relay: a run of events whose text is already what
 * `formatEvent` would make of their messages' type, data and id is handed
 * to `verbatim` as that text instead of being emitted message by message
 * (see `canonical`): the relay then neither builds nor re-formats them.
 * With `keepsTails`, a relay with a map gets the text of each message's
 * data line where formatting its data would give that text again.
 */
export class Interpreter {
  private readonly emit: (message: SSEMessage) => void;
  private readonly verbatim: ((text: string) => void) | undefined;
  private readonly onRetry: ((ms: number) => void) | undefined;
  private readonly onComment: ((text: string) => void) | undefined;
  private readonly max: number;
  private decoder: TextDecoder | undefined = undefined;
  // The bytes of an unterminated line, in `held[0, heldLength)`.
  private held: Uint8Array | undefined = undefined;
  private heldLength = 0;
  // Whether the first character of the stream is still to come, so a BOM
  // is stripped there and nowhere else.
  private first = true;
  // The previous text ended with CR, which already ended a line: an LF
  // opening the next text belongs to it and must not end another line.
  private skipLF = false;
  // An unterminated line, as the pieces that arrived so far; joined once it
  // ends, so a long line costs linear time however it is chunked.
  private pieces: string[] = [];
  private pending = 0;
  // The spec's data buffer without its final LF, with `hasData` telling an
  // empty buffer from one holding a single empty line.
  private data = "";
  private hasData = false;
  private type = "";
  // The last event ID buffer, which the spec never resets on dispatch.
  private lastId: string;
  // The last event ID string: the buffer as of the last dispatch.
  private committed: string;
  // The id field of the block being read, if it had a valid one.
  private blockId: string | undefined = undefined;
  /** Whether to note each message's `tail`: a relay sets it. */
  keepsTails = false;
  /**
   * Told of a dispatch that sends no event but changes the last event ID
   * string (an id-only block): a relay that forwards the stream must
   * forward it too, or its client resumes from the wrong id.
   */
  idOnly: ((lastEventId: string) => void) | undefined = undefined;
  /**
   * While a message is emitted (with `keepsTails`): its event's text from
   * its data line on, when that is `data: `, the data, LF, LF, which is
   * what `formatEvent` makes of the data; undefined otherwise.
   */
  tail: string | undefined = undefined;

  constructor(
    options: SSEDecoderOptions | undefined,
    emit: (message: SSEMessage) => void,
    verbatim?: (text: string) => void,
  ) {
    if (options !== undefined && (typeof options !== "object" || !options)) {
      throw new TypeError(
        `Invalid SSE decoder options: expected an object or undefined, got ${
          describe(options)
        }`,
      );
    }
    const opts = options ?? {};
    this.emit = emit;
    this.verbatim = verbatim;
    this.onRetry = callback(opts, "onRetry");
    this.onComment = callback(opts, "onComment");
    const { lastEventId = "", maxEventSize = DEFAULT_MAX_EVENT_SIZE } = opts;
    if (typeof lastEventId !== "string") {
      throw new TypeError(
        `Invalid lastEventId option: expected a string, got ${
          describe(lastEventId)
        }`,
      );
    }
    if (typeof maxEventSize !== "number") {
      throw new TypeError(
        `Invalid maxEventSize option: expected a number, got ${
          describe(maxEventSize)
        }`,
      );
    }
    if (
      !(Number.isSafeInteger(maxEventSize) && maxEventSize > 0) &&
      maxEventSize !== Infinity
    ) {
      throw new RangeError(
        `Invalid maxEventSize option: expected a positive integer (UTF-16 code units) or Infinity, got ${maxEventSize}`,
      );
    }
    // The spec starts the last event ID buffer empty on every connection;
    // a resumed stream starts it from the id it resumes from instead, or the
    // first dispatch would wipe that id.
    this.lastId = this.committed = lastEventId;
    this.max = maxEventSize;
  }

  get lastEventId(): string {
    return this.committed;
  }

  push(chunk: Uint8Array | string): void {
    if (typeof chunk === "string") {
      // Held bytes end there, a character they cut short decoding to
      // U+FFFD as at the end of input, rather than joining the string.
      if (this.heldLength !== 0) this.release();
      this.text(chunk);
    } else if (chunk instanceof Uint8Array) {
      this.bytes(chunk);
    } else if (ArrayBuffer.isView(chunk)) {
      const view = chunk as ArrayBufferView;
      this.bytes(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    } else {
      throw new TypeError(
        `Invalid SSE input chunk: expected a Uint8Array or a string, got ${
          describe(chunk)
        }`,
      );
    }
  }

  // Bytes are decoded with the output one decoder over the whole stream
  // would give, but by non-streaming calls: those take a fast native path
  // that `{ stream: true }` misses in Deno (7 times faster on non-ASCII
  // text), and cost the same elsewhere. Bytes that cannot be decoded yet
  // are held, in `held[0, heldLength)`, ahead of the next chunk.
  private bytes(chunk: Uint8Array): void {
    const length = chunk.length;
    if (length < SMALL_CHUNK) return this.small(chunk, length);
    let bytes = chunk;
    if (this.heldLength !== 0) {
      bytes = new Uint8Array(this.heldLength + length);
      bytes.set(this.held!.subarray(0, this.heldLength));
      bytes.set(chunk, this.heldLength);
      this.heldLength = 0;
    }
    // Decoded up to the start of a character the chunk cuts short. Cutting
    // just before a byte that is not a continuation byte (10xxxxxx) never
    // changes the output: the UTF-8 decode algorithm ends any unfinished
    // sequence there with one U+FFFD, as it does at the end of input, and
    // restarts from that byte.
    const size = bytes.length;
    let cut = size;
    for (let i = size - 1; i >= size - 3; i--) {
      const byte = bytes[i];
      if (byte < 0x80) break;
      if (byte >= 0xc0) {
        if (size - i < (byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2)) cut = i;
        break;
      }
    }
    this.text(this.decode(cut === size ? bytes : bytes.subarray(0, cut)));
    if (cut < size) this.keep(bytes, cut, size);
  }

  // A small chunk is decoded no more than a line at a time: a decoder call
  // and a string for every few bytes would cost more than the bytes. Up to
  // its last line end it is decoded with the held bytes; the rest is held.
  // A cut right after a CR or LF byte leaves the decoder at rest.
  private small(chunk: Uint8Array, length: number): void {
    let last = length - 1;
    while (last >= 0 && chunk[last] !== LF && chunk[last] !== CR) last--;
    if (last < 0) return this.keep(chunk, 0, length);
    let start = 0;
    if (this.heldLength !== 0) {
      while (chunk[start] !== LF && chunk[start] !== CR) start++;
      this.keep(chunk, 0, ++start);
      this.release();
    }
    if (start <= last) this.text(this.decode(chunk.subarray(start, last + 1)));
    if (last + 1 < length) this.keep(chunk, last + 1, length);
  }

  private decode(bytes: Uint8Array): string {
    // A BOM is kept here (`ignoreBOM`), since every call would strip its
    // own; `text` strips it once, at the start of the stream.
    this.decoder ??= new TextDecoder("utf-8", { ignoreBOM: true });
    return this.decoder.decode(bytes);
  }

  private keep(chunk: Uint8Array, from: number, to: number): void {
    const size = this.heldLength + to - from;
    // A UTF-16 code unit takes at most three bytes, so a line holding more
    // than three bytes per unit allowed (plus a CRLF, which may be held
    // with it but does not count) is surely too long already.
    if (size > 3 * this.max + 2) {
      this.held = undefined;
      this.heldLength = 0;
      throw tooBig("line", this.max);
    }
    let held = this.held;
    if (held === undefined || size > held.length) {
      // Doubling keeps a line arriving in many small chunks linear.
      const grown = new Uint8Array(
        Math.max(size, 2 * (held?.length ?? 0), 256),
      );
      if (held !== undefined) grown.set(held.subarray(0, this.heldLength));
      this.held = held = grown;
    }
    held.set(chunk.subarray(from, to), this.heldLength);
    this.heldLength = size;
  }

  // Decodes the held bytes as the text they are.
  private release(): void {
    const held = this.held!;
    const length = this.heldLength;
    this.heldLength = 0;
    // A buffer grown by a huge line is not kept for the small ones after.
    if (held.length > 65536) this.held = undefined;
    this.text(this.decode(held.subarray(0, length)));
  }

  end(): void {
    // Held bytes go through the line limit as text would.
    if (this.heldLength !== 0) this.release();
    // §9.2.6: "Once the end of the file is reached, any pending data must be
    // discarded": an unterminated line or an event without its blank line.
    this.pieces = [];
    this.pending = 0;
    this.data = "";
    this.hasData = false;
    this.type = "";
    this.blockId = undefined;
  }

  private text(s: string): void {
    const length = s.length;
    if (length === 0) return;
    let pos = 0;
    if (this.first) {
      this.first = false;
      if (s.charCodeAt(0) === BOM) pos = 1;
    }
    if (this.skipLF) {
      this.skipLF = false;
      if (s.charCodeAt(pos) === LF) pos++;
    }
    let lf = s.indexOf("\n", pos);
    // A chunk without CR (the usual case) is scanned for one only once.
    let cr = s.indexOf("\r", pos);
    if (this.pieces.length !== 0) {
      const end = lf === -1 || (cr !== -1 && cr < lf) ? cr : lf;
      if (end === -1) return this.hold(s, pos);
      const pieces = this.pieces;
      const total = this.pending + end - pos;
      this.pieces = [];
      this.pending = 0;
      if (total > this.max) throw tooBig("line", this.max);
      // Mostly one piece held back by the previous chunk: a plain
      // concatenation is cheaper than a join then.
      const head = s.slice(pos, end);
      const line = pieces.length === 1
        ? pieces[0] + head
        : (pieces.push(head), pieces.join(""));
      this.line(line, 0, line.length);
      pos = this.after(s, end, cr);
      if (lf < pos) lf = s.indexOf("\n", pos);
      if (cr < pos && cr !== -1) cr = s.indexOf("\r", pos);
    }
    const max = this.max;
    const verbatim = this.verbatim !== undefined;
    for (;;) {
      // A pass-through relay takes canonical events as their text.
      if (verbatim) {
        const run = this.canonical(s, pos, cr === -1 ? length : cr);
        if (run !== pos) {
          pos = run;
          if (lf < pos) lf = s.indexOf("\n", pos);
        }
      }
      let end: number;
      if (lf !== -1 && (cr === -1 || lf < cr)) {
        end = lf;
        if (end - pos > max) throw tooBig("line", max);
        // `data:` and `event:` lines, most of any stream, are read here
        // rather than in `line`, and the blank line ending an event is
        // found without another search.
        const c0 = s.charCodeAt(pos);
        if (
          c0 === 100 && s.charCodeAt(pos + 4) === COLON &&
          s.charCodeAt(pos + 1) === 97 && s.charCodeAt(pos + 2) === 116 &&
          s.charCodeAt(pos + 3) === 97
        ) {
          const v = s.charCodeAt(pos + 5) === SPACE ? pos + 6 : pos + 5;
          const value = s.slice(v, end);
          if (s.charCodeAt(end + 1) !== LF) {
            this.append(value);
            pos = end + 1;
          } else {
            // The event's last line: a lone one skips the data buffer.
            if (this.hasData) {
              this.append(value);
              this.dispatch();
            } else if (v === pos + 6 && this.keepsTails) {
              this.tail = s.slice(pos, end + 2);
              this.send(value);
              this.tail = undefined;
            } else this.send(value);
            pos = end + 2;
          }
        } else {
          if (
            c0 === 101 && s.charCodeAt(pos + 5) === COLON &&
            s.charCodeAt(pos + 1) === 118 && s.charCodeAt(pos + 2) === 101 &&
            s.charCodeAt(pos + 3) === 110 && s.charCodeAt(pos + 4) === 116
          ) {
            this.type = s.slice(
              s.charCodeAt(pos + 6) === SPACE ? pos + 7 : pos + 6,
              end,
            );
          } else this.line(s, pos, end);
          pos = end + 1;
          if (s.charCodeAt(pos) === LF) {
            this.dispatch();
            pos++;
          }
        }
        lf = s.indexOf("\n", pos);
      } else if (cr !== -1) {
        end = cr;
        if (end - pos > max) throw tooBig("line", max);
        this.line(s, pos, end);
        pos = this.after(s, end, cr);
        if (lf < pos && lf !== -1) lf = s.indexOf("\n", pos);
        cr = s.indexOf("\r", pos);
      } else break;
    }
    if (pos < length) this.hold(s, pos);
  }

  // The position after the line end at `end`; a CR ending the text ends its
  // line now (its event must not wait for more input) and swallows an LF
  // that may open the next text.
  private after(s: string, end: number, cr: number): number {
    if (end !== cr) return end + 1;
    if (end + 1 === s.length) {
      this.skipLF = true;
      return end + 1;
    }
    return s.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
  }

  /**
   * Hands to `verbatim` the run of whole events from `pos` (before `limit`,
   * so with no CR) whose text is exactly what `formatEvent` gives for each
   * dispatched message's type (`undefined` for "message"), data and id,
   * and returns its end (`pos` when there is none). Dispatches them as far
   * as the state goes: the last event ID.
   */
  private canonical(s: string, pos: number, limit: number): number {
    // Only lines that belong to no event yet (its state is empty, as after
    // a blank line, comment or retry) can start a run: what such an event
    // dispatches depends on its own lines alone.
    if (this.hasData || this.type !== "" || this.blockId !== undefined) {
      return pos;
    }
    let run = pos;
    for (let end; (end = this.canonicalEvent(s, run, limit)) !== -1;) {
      run = end;
    }
    if (run !== pos) {
      this.committed = this.lastId;
      this.verbatim!(s.slice(pos, run));
    }
    return run;
  }

  /**
   * The end of the canonical event at `p`, or -1: an optional `event: T`
   * line, an optional `id: I` line, `data: D` lines and the blank line, in
   * that order, each field with exactly one space. Anything else (comments,
   * retry, `data:x`, repeated or reordered fields) is left to the message
   * path, which formats it into another text.
   */
  private canonicalEvent(s: string, p: number, limit: number): number {
    const start = p;
    let lf: number;
    let id: string | undefined;
    // The first character tells whether the optional lines are there.
    if (s.charCodeAt(p) === 101) {
      if (!s.startsWith("event: ", p)) return -1;
      lf = s.indexOf("\n", p + 7);
      if (lf === -1 || lf >= limit) return -1;
      // "" and "message" are the default type: formatted, no event line.
      if (lf === p + 7 || (lf === p + 14 && s.startsWith("message", p + 7))) {
        return -1;
      }
      p = lf + 1;
    }
    if (s.charCodeAt(p) === 105) {
      if (!s.startsWith("id: ", p)) return -1;
      lf = s.indexOf("\n", p + 4);
      if (lf === -1 || lf >= limit) return -1;
      id = s.slice(p + 4, lf);
      // Such an id is ignored, so the message has none.
      if (id.indexOf("\0") !== -1) return -1;
      p = lf + 1;
    }
    if (!s.startsWith("data: ", p)) return -1;
    for (;;) {
      lf = s.indexOf("\n", p + 6);
      if (lf === -1 || lf + 1 >= limit) return -1;
      p = lf + 1;
      if (s.charCodeAt(p) === LF) break;
      if (!s.startsWith("data: ", p)) return -1;
    }
    // The event, measured whole, within the limit: its lines and data are.
    if (++p - start > this.max) return -1;
    if (id !== undefined) this.lastId = id;
    return p;
  }

  private hold(s: string, pos: number): void {
    const piece = pos === 0 ? s : s.slice(pos);
    this.pending += piece.length;
    if (this.pending > this.max) {
      this.pieces = [];
      this.pending = 0;
      throw tooBig("line", this.max);
    }
    this.pieces.push(piece);
  }

  // §9.2.6 for one line `s[start, end)`, which holds no CR or LF.
  private line(s: string, start: number, end: number): void {
    if (start === end) return this.dispatch();
    const c0 = s.charCodeAt(start);
    // The common `data:` line first; the characters checked are no line
    // ends, so they all lie inside the line.
    if (
      c0 === 100 && s.charCodeAt(start + 4) === COLON &&
      s.charCodeAt(start + 1) === 97 && s.charCodeAt(start + 2) === 116 &&
      s.charCodeAt(start + 3) === 97
    ) {
      const v = s.charCodeAt(start + 5) === SPACE ? start + 6 : start + 5;
      return this.append(s.slice(v, end));
    }
    if (
      c0 === 101 && s.charCodeAt(start + 5) === COLON &&
      s.charCodeAt(start + 1) === 118 && s.charCodeAt(start + 2) === 101 &&
      s.charCodeAt(start + 3) === 110 && s.charCodeAt(start + 4) === 116
    ) {
      const v = s.charCodeAt(start + 6) === SPACE ? start + 7 : start + 6;
      this.type = s.slice(v, end);
      return;
    }
    if (c0 === COLON) {
      const onComment = this.onComment;
      if (onComment !== undefined) {
        let v = start + 1;
        if (s.charCodeAt(v) === SPACE) v++;
        onComment(s.slice(v, end));
      }
      return;
    }
    let colon = start + 1;
    while (colon < end && s.charCodeAt(colon) !== COLON) colon++;
    // "Collect the characters on the line after the first U+003A COLON
    // character (:) ... If value starts with a U+0020 SPACE character,
    // remove it from value": one space, never more. No colon: value "".
    let v = colon + 1;
    if (v < end && s.charCodeAt(v) === SPACE) v++;
    const value = v < end ? s.slice(v, end) : "";
    switch (colon - start) {
      case 2:
        // "id": a value with NUL is ignored, so no id can smuggle a NUL into
        // the Last-Event-ID header of a reconnection.
        if (
          c0 === 105 && s.charCodeAt(start + 1) === 100 &&
          value.indexOf("\0") === -1
        ) {
          this.lastId = value;
          this.blockId = value;
        }
        return;
      case 4:
        if (
          c0 === 100 && s.charCodeAt(start + 1) === 97 &&
          s.charCodeAt(start + 2) === 116 && s.charCodeAt(start + 3) === 97
        ) this.append(value);
        return;
      case 5:
        if (
          c0 === 101 && s.charCodeAt(start + 1) === 118 &&
          s.charCodeAt(start + 2) === 101 && s.charCodeAt(start + 3) === 110 &&
          s.charCodeAt(start + 4) === 116
        ) {
          this.type = value;
        } else if (
          c0 === 114 && s.charCodeAt(start + 1) === 101 &&
          s.charCodeAt(start + 2) === 116 && s.charCodeAt(start + 3) === 114 &&
          s.charCodeAt(start + 4) === 121
        ) {
          this.retry(value);
        }
        return;
    }
  }

  private append(value: string): void {
    if (this.hasData) this.data = this.data + "\n" + value;
    else {
      this.data = value;
      this.hasData = true;
    }
    if (this.data.length > this.max) throw tooBig("event data", this.max);
  }

  private retry(value: string): void {
    // "If the field value consists of only ASCII digits": an empty value
    // holds no number, so it is ignored like any other non-digit value.
    if (value === "") return;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 48 || c > 57) return;
    }
    const onRetry = this.onRetry;
    if (onRetry !== undefined) onRetry(Number(value));
  }

  private dispatch(): void {
    // "Dispatch the event", step 1: the last event ID string is committed on
    // every dispatch, even one that step 2 ends for empty data; the buffer
    // it comes from is not reset.
    if (!this.hasData && this.lastId !== this.committed) {
      this.idOnly?.(this.lastId);
    }
    this.committed = this.lastId;
    if (!this.hasData) {
      this.type = "";
      this.blockId = undefined;
      return;
    }
    const data = this.data;
    this.data = "";
    this.hasData = false;
    this.send(data);
  }

  // Emits the event being dispatched, with its data buffer already taken
  // and its final LF removed.
  private send(data: string): void {
    this.committed = this.lastId;
    const type = this.type === "" ? "message" : this.type;
    const id = this.blockId;
    this.type = "";
    this.blockId = undefined;
    this.emit(
      id === undefined
        ? { type, data, lastEventId: this.lastId }
        : { type, data, lastEventId: this.lastId, id },
    );
  }
}

/**
 * The state machine of §9.2.6 "interpreting an event stream", without any
 * I/O: chunks of bytes or text in through
 * {@linkcode EventStreamInterpreter.push}, each dispatched
 * message out through the `emit` callback, synchronously. It is what
 * {@linkcode SSEDecoderStream} and {@linkcode parseSSE} run on, for code
 * that reads the bytes itself (a reconnecting client, another transport).
 *
 * Decoding, line ends, fields, `lastEventId` and `maxEventSize` behave as
 * {@linkcode SSEDecoderStream} describes. After a `push` or `end` throws,
 * the interpreter must not be used again.
 *
 * @example Feeding chunks by hand
 * ```ts ignore
 * import { EventStreamInterpreter, type SSEMessage } from "@ssekit/ssekit";
 *
 * const messages: SSEMessage[] = [];
 * const interpreter = new EventStreamInterpreter({}, (m) => messages.push(m));
 * interpreter.push(new TextEncoder().encode("id: 7\ndata: a\n"));
 * interpreter.push("\n");
 * interpreter.end();
 * // messages: [{ type: "message", data: "a", lastEventId: "7", id: "7" }]
 * interpreter.lastEventId; // "7", for the Last-Event-ID of a reconnection
 * ```
 */
export class EventStreamInterpreter {
  #core: Interpreter;

  /**
   * Creates an interpreter for one connection.
   *
   * @param options Callbacks for `retry` fields and comments, the last event
   * id to resume from, and the size limit.
   * @param emit Called with each dispatched message, synchronously from
   * {@linkcode EventStreamInterpreter.push}.
   * @throws {TypeError} When an option has the wrong type.
   * @throws {RangeError} When `maxEventSize` is not a positive integer or
   * `Infinity`.
   */
  constructor(
    options: SSEDecoderOptions | undefined,
    emit: (message: SSEMessage) => void,
  ) {
    this.#core = new Interpreter(options, emit);
  }

  /**
   * The last event ID string: the id in force as of the last dispatch (a
   * blank line), or the `lastEventId` option before any. This is what a
   * reconnection sends as `Last-Event-ID`; an `id` field whose event has
   * not been dispatched yet does not count.
   */
  get lastEventId(): string {
    return this.#core.lastEventId;
  }

  /**
   * Interprets the next chunk of the stream, calling `emit` for each event
   * it completes.
   *
   * @param chunk Bytes (UTF-8) or text; the two may be mixed.
   * @throws {RangeError} When a line or an event's data outgrows
   * `maxEventSize`.
   * @throws {TypeError} When the chunk is neither bytes nor a string.
   */
  push(chunk: Uint8Array | string): void {
    this.#core.push(chunk);
  }

  /**
   * Ends the stream: an unterminated line or an event without its blank
   * line is discarded, as the standard says.
   *
   * @throws {RangeError} When an unterminated line held back as bytes turns
   * out to outgrow `maxEventSize`.
   */
  end(): void {
    this.#core.end();
  }
}

/**
 * A `TransformStream` from `text/event-stream` bytes (or text) to the
 * messages an `EventSource` would dispatch, per the WHATWG HTML standard's
 * "interpreting an event stream" (§9.2.6).
 *
 * Bytes are decoded as UTF-8 (invalid sequences become U+FFFD) exactly as
 * one decoder over the whole stream would, so characters split between
 * chunks stay whole; a BOM is stripped at the start of the stream only.
 * CR, LF and CRLF end lines, also when CR and LF arrive in different
 * chunks, and an event is dispatched as soon as its blank line arrives. An
 * event still open when the input ends is discarded, as the standard says.
 *
 * The stream errors with a `RangeError` when a line or an event's data
 * outgrows {@linkcode SSEDecoderOptions.maxEventSize}, and with a
 * `TypeError` on a chunk that is neither a `Uint8Array` nor a string.
 *
 * @example Decoding a fetch response
 * ```ts ignore
 * import { SSEDecoderStream } from "@ssekit/ssekit";
 *
 * const response = await fetch("https://example.com/events");
 * const messages = response.body!.pipeThrough(new SSEDecoderStream());
 * for await (const message of messages) {
 *   console.log(message.type, message.data, message.lastEventId);
 * }
 * ```
 *
 * @example Decoding text
 * ```ts
 * import { SSEDecoderStream } from "@ssekit/ssekit";
 *
 * const reader = ReadableStream.from(["event: greet\ndata: hi\n\n"])
 *   .pipeThrough(new SSEDecoderStream())
 *   .getReader();
 * const { value } = await reader.read();
 * // value: { type: "greet", data: "hi", lastEventId: "" }
 * ```
 */
export class SSEDecoderStream
  extends TransformStream<Uint8Array | string, SSEMessage> {
  /**
   * Creates the stream.
   *
   * @param options Callbacks for `retry` fields and comments, the last event
   * id to resume from, and the size limit.
   * @throws {TypeError} When an option has the wrong type.
   * @throws {RangeError} When `maxEventSize` is not a positive integer or
   * `Infinity`.
   */
  constructor(options?: SSEDecoderOptions) {
    let controller!: TransformStreamDefaultController<SSEMessage>;
    const interpreter = new Interpreter(
      options,
      (message) => controller.enqueue(message),
    );
    super({
      start(c) {
        controller = c;
      },
      transform(chunk) {
        interpreter.push(chunk);
      },
      flush() {
        interpreter.end();
      },
    });
  }
}

/**
 * Reads the messages of a `text/event-stream` `Response` or
 * `ReadableStream`, decoded as {@linkcode SSEDecoderStream} does.
 *
 * The body is read only when the next message is asked for, so a slow
 * consumer never makes it buffer. Leaving a `for await` loop early (`break`,
 * `return` or a throw) cancels the body. A `Response` without a body yields
 * nothing. The status and `Content-Type` are not checked: that is up to the
 * caller.
 *
 * @example Reading a fetch response
 * ```ts ignore
 * import { parseSSE } from "@ssekit/ssekit";
 *
 * const response = await fetch("https://example.com/events", {
 *   headers: { Accept: "text/event-stream" },
 * });
 * for await (const message of parseSSE(response)) {
 *   if (message.type === "done") break; // cancels the body
 *   console.log(message.data);
 * }
 * ```
 *
 * @example Reading a stream
 * ```ts
 * import { parseSSE } from "@ssekit/ssekit";
 *
 * const body = ReadableStream.from(["id: 1\ndata: a\n\n", "data: b\n\n"]);
 * for await (const { data, lastEventId } of parseSSE(body)) {
 *   console.log(data, lastEventId); // "a" "1", then "b" "1"
 * }
 * ```
 *
 * @param input The response, or its body.
 * @param options Callbacks for `retry` fields and comments, the last event
 * id to resume from, and the size limit.
 * @returns An async iterator of the messages; `return()` cancels the body.
 * @throws {TypeError} When `input` is neither a `Response` nor a
 * `ReadableStream`, its body is locked, or an option has the wrong type.
 * @throws {RangeError} When `maxEventSize` is invalid. A line or event over
 * the limit rejects the iterator's `next()` with a `RangeError` instead.
 */
export function parseSSE<M extends SSEEventMap>(
  input: Response | ReadableStream<Uint8Array> | ReadableStream<string>,
  options: SSEDecoderOptions & TypedReadOptions<M>,
): AsyncIterableIterator<TypedSSEMessage<M>>;
/**
 * Reads the messages of an untyped stream: see the typed form above.
 *
 * @param input The response, or its body.
 * @param options Callbacks, the id to resume from, and the size limit.
 * @returns An async iterator of the messages; `return()` cancels the body.
 */
export function parseSSE(
  input: Response | ReadableStream<Uint8Array> | ReadableStream<string>,
  options?: SSEDecoderOptions,
): AsyncIterableIterator<SSEMessage>;
export function parseSSE(
  input: Response | ReadableStream<Uint8Array> | ReadableStream<string>,
  options?: SSEDecoderOptions & Partial<TypedReadOptions<SSEEventMap>>,
): AsyncIterableIterator<SSEMessage | TypedSSEMessage<SSEEventMap>> {
  if (options?.events === undefined) return readMessages(input, options);
  const { events, onInvalid, ...rest } = options;
  checkEvents(events);
  return decodeMessages(
    readMessages(input, rest),
    events,
    onInvalid,
  ) as AsyncIterableIterator<TypedSSEMessage<SSEEventMap>>;
}

function readMessages(
  input: Response | ReadableStream<Uint8Array> | ReadableStream<string>,
  options?: SSEDecoderOptions,
): AsyncIterableIterator<SSEMessage> {
  const queue: SSEMessage[] = [];
  let head = 0;
  const interpreter = new Interpreter(options, (message) => {
    queue.push(message);
  });
  const candidate = input as unknown as Record<string, unknown> | null;
  let stream: ReadableStream<Uint8Array | string> | null;
  if (typeof candidate?.getReader === "function") {
    stream = input as ReadableStream<Uint8Array | string>;
  } else if (
    typeof candidate === "object" && candidate && "body" in candidate
  ) {
    stream = (input as Response).body;
  } else {
    throw new TypeError(
      `Invalid parseSSE input: expected a Response or a ReadableStream, got ${
        describe(input)
      }`,
    );
  }
  let reader: ReadableStreamDefaultReader<Uint8Array | string> | undefined =
    stream?.getReader();
  let busy: Promise<IteratorResult<SSEMessage>> | undefined;

  const take = (): IteratorResult<SSEMessage> => {
    const value = queue[head++];
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    }
    return { done: false, value };
  };
  const close = (): void => {
    const open = reader;
    reader = undefined;
    queue.length = 0;
    head = 0;
    try {
      open?.releaseLock();
    } catch {
      // Already released by the stream's end; nothing is left to free.
    }
  };
  const pull = async (): Promise<IteratorResult<SSEMessage>> => {
    for (;;) {
      if (head < queue.length) return take();
      const open = reader;
      if (open === undefined) return { done: true, value: undefined };
      let chunk: ReadableStreamReadResult<Uint8Array | string>;
      try {
        chunk = await open.read();
      } catch (error) {
        close();
        throw error;
      }
      // `return()` ran while the read was pending.
      if (reader !== open) return { done: true, value: undefined };
      try {
        if (chunk.done) {
          interpreter.end();
          close();
        } else interpreter.push(chunk.value);
      } catch (error) {
        // Messages decoded before the failure are dropped with the body: the
        // error says the stream cannot be trusted past this point anyway.
        const cancelled = open.cancel(error);
        close();
        cancelled.then(undefined, () => {});
        throw error;
      }
    }
  };

  return {
    next(): Promise<IteratorResult<SSEMessage>> {
      // Messages decoded from one chunk are handed out without a read; a
      // call made while another still reads waits its turn, keeping order.
      if (busy === undefined && head < queue.length) {
        return Promise.resolve(take());
      }
      const step = busy === undefined ? pull() : busy.then(pull, pull);
      busy = step;
      const settle = () => {
        if (busy === step) busy = undefined;
      };
      step.then(settle, settle);
      return step;
    },
    async return(value?: unknown): Promise<IteratorResult<SSEMessage>> {
      const open = reader;
      // Cancelling first settles a pending read, so releasing the lock
      // cannot fail on it.
      const cancelled = open?.cancel();
      close();
      // A body that already failed rejects its cancel; leaving the loop
      // must not throw for it.
      await cancelled?.catch(() => {});
      return { done: true, value: value as undefined };
    },
    [Symbol.asyncIterator](): AsyncIterableIterator<SSEMessage> {
      return this;
    },
  };
}
