/**
 * Bytes to text, the first step of WHATWG HTML §9.2.6 "Event stream
 * interpretation": "Streams must be decoded using the UTF-8 decode
 * algorithm", which strips one leading BOM and turns invalid sequences into
 * U+FFFD. Chunks may be bytes or text, mixed; the text goes to a
 * {@linkcode TextSink} in order, as one decoder over the whole stream would
 * give it. (Over ~150 lines: most of it says why each byte rule is safe.)
 *
 * @module
 */

import { describe } from "./_checks.ts";
import { tooBig } from "./_lines.ts";

const LF = 10;
const CR = 13;
const BOM = 0xfeff;
// Chunks shorter than this are scanned for line ends before decoding.
const SMALL_CHUNK = 512;

/** Where text goes, never empty. */
export interface TextSink {
  text(s: string): void;
}

/**
 * Decodes the chunks of one stream. Bytes are decoded by non-streaming
 * calls: those take a fast native path that `{ stream: true }` misses in
 * Deno (7 times faster on non-ASCII text), and cost the same elsewhere.
 * Bytes that cannot be decoded yet are held, in `held[0, heldLength)`,
 * ahead of the next chunk.
 */
export class TextInput {
  private decoder: TextDecoder | undefined = undefined;
  private held: Uint8Array | undefined = undefined;
  private heldLength = 0;
  // Whether the first character of the stream is still to come, so a BOM
  // is stripped there and nowhere else.
  private first = true;

  /**
   * @param max The line limit (UTF-16 code units): held bytes never exceed
   * three per unit of it.
   * @param sink Where the text goes.
   */
  constructor(
    private readonly max: number,
    private readonly sink: TextSink,
  ) {}

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

  /** Decodes what is held: a character cut short becomes U+FFFD. */
  end(): void {
    if (this.heldLength !== 0) this.release();
  }

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
    this.decode(cut === size ? bytes : bytes.subarray(0, cut));
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
    if (start <= last) this.decode(chunk.subarray(start, last + 1));
    if (last + 1 < length) this.keep(chunk, last + 1, length);
  }

  private decode(bytes: Uint8Array): void {
    // A BOM is kept here (`ignoreBOM`), since every call would strip its
    // own; `text` strips it once, at the start of the stream.
    this.decoder ??= new TextDecoder("utf-8", { ignoreBOM: true });
    this.text(this.decoder.decode(bytes));
  }

  private text(s: string): void {
    if (s.length === 0) return;
    if (this.first) {
      this.first = false;
      if (s.charCodeAt(0) === BOM) {
        if (s.length === 1) return;
        s = s.slice(1);
      }
    }
    this.sink.text(s);
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
    this.decode(held.subarray(0, length));
  }
}
