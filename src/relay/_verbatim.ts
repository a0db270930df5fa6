/**
 * The relay's fast paths, taken ahead of the parser: events already in the
 * form `formatEvent` gives (see {@linkcode canonicalEnd}) are read here by
 * a scan of their text, and only the rest goes to the parser of §9.2.6.
 * Without a map, a run of such events is sent on as its text, neither made
 * into messages nor formatted again; with one, each becomes a message that
 * carries its text from the data lines on (its tail), which a relay sends
 * instead of formatting the data again where the map kept the data. The
 * property tests of `tests/relay.test.ts` compare both with formatting
 * every message the parser reads. (Over ~150 lines: the canonical form and
 * the routing of text around the parser are read together or not at all.)
 *
 * @module
 */

import type { SSEMessage } from "../types.ts";
import { Interpreter, type SSEDecoderOptions } from "../_interpreter.ts";
import type { TextSink } from "../_decode_text.ts";

const LF = 10;

/** Where a canonical event's parts lie in the text: set by `canonicalEnd`. */
interface Parts {
  /** Start and end of the `event` field's value; -1 without that line. */
  type: number;
  typeEnd: number;
  /** The `id` field's value, if the event has that line. */
  id: string | undefined;
  /** Start of the first `data` line, and how many there are. */
  data: number;
  lines: number;
}

/**
 * The end of the canonical event at `p`, or -1: an optional `event: T`
 * line, an optional `id: I` line, `data: D` lines and the blank line, in
 * that order, each field with exactly one space, LF line ends only (all
 * before `limit`, the next CR), no longer than `max` in all. Anything else
 * (comments, retry, `data:x`, `event: message`, an id with NUL, repeated
 * or reordered fields) is left to the parser. Such an event dispatches a
 * message of type T (or "message"), data the D's joined by LF, and id I,
 * and is exactly the text `formatEvent` gives for them.
 */
function canonicalEnd(
  s: string,
  p: number,
  limit: number,
  max: number,
  parts: Parts,
): number {
  const start = p;
  let lf: number;
  parts.type = -1;
  parts.id = undefined;
  // The first character tells whether the optional lines are there.
  if (s.charCodeAt(p) === 101) {
    if (!s.startsWith("event: ", p)) return -1;
    lf = s.indexOf("\n", p + 7);
    if (lf === -1 || lf >= limit) return -1;
    // "" and "message" are the default type: formatted, no event line.
    if (lf === p + 7 || (lf === p + 14 && s.startsWith("message", p + 7))) {
      return -1;
    }
    parts.type = p + 7;
    parts.typeEnd = lf;
    p = lf + 1;
  }
  if (s.charCodeAt(p) === 105) {
    if (!s.startsWith("id: ", p)) return -1;
    lf = s.indexOf("\n", p + 4);
    if (lf === -1 || lf >= limit) return -1;
    const id = s.slice(p + 4, lf);
    // Such an id is ignored, so the message has none.
    if (id.indexOf("\0") !== -1) return -1;
    parts.id = id;
    p = lf + 1;
  }
  if (!s.startsWith("data: ", p)) return -1;
  parts.data = p;
  parts.lines = 0;
  for (;;) {
    lf = s.indexOf("\n", p + 6);
    if (lf === -1 || lf + 1 >= limit) return -1;
    parts.lines++;
    p = lf + 1;
    if (s.charCodeAt(p) === LF) break;
    if (!s.startsWith("data: ", p)) return -1;
  }
  // The event, measured whole, within the limit: its lines and data are.
  return ++p - start > max ? -1 : p;
}

// Where the parser, fed from `from`, is surely between events again: after
// the next blank line that follows an LF.
function afterBlank(s: string, from: number): number {
  const at = s.indexOf("\n\n", from);
  return at === -1 ? s.length : at + 2;
}

/** What a relay reads of its upstream, in the upstream's order. */
export interface RelaySinks {
  /**
   * A message, with its event's text from its first data line on when that
   * is what formatting its data gives; undefined otherwise.
   */
  message(message: SSEMessage, tail: string | undefined): void;
  /**
   * Runs of canonical events as their text. Without it, every event comes
   * to `message`.
   */
  verbatim?: (text: string) => void;
  /** As `Fields.idOnly`: a dispatch that moved the id without an event. */
  idOnly?: (lastEventId: string) => void;
}

/** The upstream's parser, with the relay's scan ahead of it. */
export class RelayReader implements TextSink {
  private readonly core: Interpreter;
  private readonly parts: Parts = {
    type: -1,
    typeEnd: -1,
    id: undefined,
    data: 0,
    lines: 0,
  };
  // Whether the last text ended with LF, so an LF opening the next one is
  // a blank line.
  private endsLF = false;

  constructor(options: SSEDecoderOptions, private readonly sinks: RelaySinks) {
    this.core = new Interpreter(
      options,
      (message) => sinks.message(message, undefined),
      this,
    );
    this.core.fields.idOnly = sinks.idOnly;
  }

  /** The upstream's last event ID string. */
  get lastEventId(): string {
    return this.core.lastEventId;
  }

  push(chunk: Uint8Array | string): void {
    this.core.push(chunk);
  }

  end(): void {
    this.core.end();
  }

  /**
   * Takes the decoded text: canonical runs where the parser is between
   * events, the rest, up to where it is between events again (or a CR,
   * which ends a line), to the parser.
   */
  text(s: string): void {
    const core = this.core;
    const length = s.length;
    let pos = 0;
    let cr = s.indexOf("\r");
    let stop = this.endsLF && s.charCodeAt(0) === LF ? 1 : afterBlank(s, 0);
    while (pos < length) {
      if (core.idle) {
        pos = this.run(s, pos, cr === -1 ? length : cr);
        if (pos === length) break;
        if (stop <= pos) stop = afterBlank(s, pos);
      }
      // A CR is fed with the LF after it: the pair is one line end.
      const to = cr === -1 || cr >= stop
        ? stop
        : s.charCodeAt(cr + 1) === LF
        ? cr + 2
        : cr + 1;
      core.lines.text(pos === 0 && to === length ? s : s.slice(pos, to));
      pos = to;
      if (cr !== -1 && cr < pos) cr = s.indexOf("\r", pos);
      if (stop <= pos) stop = afterBlank(s, pos);
    }
    this.endsLF = s.charCodeAt(length - 1) === LF;
  }

  // Reads the canonical events from `pos` and returns their end.
  private run(s: string, pos: number, limit: number): number {
    const { parts, sinks } = this;
    const verbatim = sinks.verbatim;
    let id = this.core.lastEventId;
    let end = pos;
    for (
      let next;
      (next = canonicalEnd(s, end, limit, this.core.max, parts)) !== -1;
      end = next
    ) {
      if (parts.id !== undefined) id = parts.id;
      if (verbatim !== undefined) continue;
      const type = parts.type === -1
        ? "message"
        : s.slice(parts.type, parts.typeEnd);
      let data = s.slice(parts.data + 6, next - 2);
      // No value holds an LF, so this is where one data line ends.
      if (parts.lines > 1) data = data.replaceAll("\ndata: ", "\n");
      sinks.message(
        parts.id === undefined
          ? { type, data, lastEventId: id }
          : { type, data, lastEventId: id, id: parts.id },
        s.slice(parts.data, next),
      );
    }
    if (end === pos) return pos;
    // "Dispatch the event", step 1, as the parser would have.
    this.core.fields.commit(id);
    verbatim?.(s.slice(pos, end));
    return end;
  }
}
