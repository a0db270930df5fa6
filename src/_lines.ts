/**
 * Text to lines, per WHATWG HTML §9.2.6 "Event stream interpretation":
 * "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE
 * FEED (CRLF) character pair, a single U+000A LINE FEED (LF) character, or
 * a single U+000D CARRIAGE RETURN (CR) character", also when the pair is
 * cut between chunks.
 *
 * @module
 */

const LF = 10;

/** Where lines go: `s[start, end)`, which holds no CR or LF. */
export interface LineSink {
  line(s: string, start: number, end: number): void;
}

/** The error of a line or an event's data over `maxEventSize`. */
export function tooBig(what: string, limit: number): RangeError {
  return new RangeError(
    `SSE ${what} exceeds maxEventSize (${limit} UTF-16 code units); raise the maxEventSize option to accept larger events`,
  );
}

/** Splits the text of one stream into lines, each at most `max` long. */
export class Lines {
  // The previous text ended with CR, which already ended a line: an LF
  // opening the next text belongs to it and must not end another line.
  private skipLF = false;
  // An unterminated line, as the pieces that arrived so far; joined once it
  // ends, so a long line costs linear time however it is chunked.
  private pieces: string[] = [];
  private pending = 0;

  constructor(
    private readonly max: number,
    private readonly sink: LineSink,
  ) {}

  /** Whether the next text starts a line, with nothing held before it. */
  get idle(): boolean {
    return this.pieces.length === 0 && !this.skipLF;
  }

  text(s: string): void {
    const length = s.length;
    let pos = 0;
    if (this.skipLF) {
      this.skipLF = false;
      if (s.charCodeAt(0) === LF) pos = 1;
    }
    let lf = s.indexOf("\n", pos);
    // A text without CR (the usual case) is searched for one only once.
    let cr = s.indexOf("\r", pos);
    const max = this.max;
    if (this.pieces.length !== 0) {
      const end = lf === -1 || (cr !== -1 && cr < lf) ? cr : lf;
      if (end === -1) return this.hold(s, pos);
      const pieces = this.pieces;
      const total = this.pending + end - pos;
      this.pieces = [];
      this.pending = 0;
      if (total > max) throw tooBig("line", max);
      // Mostly one piece held back by the previous text: a plain
      // concatenation is cheaper than a join then.
      const head = s.slice(pos, end);
      const line = pieces.length === 1
        ? pieces[0] + head
        : (pieces.push(head), pieces.join(""));
      this.sink.line(line, 0, line.length);
      pos = this.after(s, end, cr);
      if (lf < pos) lf = s.indexOf("\n", pos);
      if (cr < pos && cr !== -1) cr = s.indexOf("\r", pos);
    }
    for (;;) {
      if (lf !== -1 && (cr === -1 || lf < cr)) {
        if (lf - pos > max) throw tooBig("line", max);
        this.sink.line(s, pos, lf);
        pos = lf + 1;
        lf = s.indexOf("\n", pos);
      } else if (cr !== -1) {
        if (cr - pos > max) throw tooBig("line", max);
        this.sink.line(s, pos, cr);
        pos = this.after(s, cr, cr);
        if (lf < pos && lf !== -1) lf = s.indexOf("\n", pos);
        cr = s.indexOf("\r", pos);
      } else break;
    }
    if (pos < length) this.hold(s, pos);
  }

  /**
   * Ends the stream. §9.2.6: "Once the end of the file is reached, any
   * pending data must be discarded": an unterminated line is.
   */
  end(): void {
    this.pieces = [];
    this.pending = 0;
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
}
