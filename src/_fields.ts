/**
 * Lines to events, per WHATWG HTML §9.2.6 "Event stream interpretation":
 * the steps for each line, "process the field", and "dispatch the event".
 * Every field rule is written here, once.
 *
 * @module
 */

import type { SSEMessage } from "./types.ts";
import { type LineSink, tooBig } from "./_lines.ts";

const SPACE = 32;
const COLON = 58;

/** A field the standard acts on; `""` stands for a comment line. */
type Field = "data" | "event" | "id" | "retry" | "";

// Whether the line `s[start, end)` is `name`, alone or before a colon.
// Compared code by code, so no line makes a string of its field name.
function names(s: string, start: number, end: number, name: string): boolean {
  const after = start + name.length;
  if (after > end) return false;
  for (let i = 1; i < name.length; i++) {
    if (s.charCodeAt(start + i) !== name.charCodeAt(i)) return false;
  }
  return after === end || s.charCodeAt(after) === COLON;
}

// The field of a non-empty line: "If the line starts with a U+003A COLON
// character (:)", a comment; else "the characters on the line before the
// first U+003A COLON character (:)", or the whole line without one. Field
// names "must be compared literally, with no case folding performed".
function fieldOf(s: string, start: number, end: number): Field | undefined {
  switch (s.charCodeAt(start)) {
    case COLON:
      return "";
    case 100:
      return names(s, start, end, "data") ? "data" : undefined;
    case 101:
      return names(s, start, end, "event") ? "event" : undefined;
    case 105:
      return names(s, start, end, "id") ? "id" : undefined;
    case 114:
      return names(s, start, end, "retry") ? "retry" : undefined;
  }
  return undefined;
}

/** What {@linkcode Fields} reports besides the events it dispatches. */
export interface FieldCallbacks {
  emit(message: SSEMessage): void;
  onRetry: ((ms: number) => void) | undefined;
  onComment: ((text: string) => void) | undefined;
}

/** The buffers of §9.2.6, read line by line. */
export class Fields implements LineSink {
  // The data buffer without its final LF, with `hasData` telling an empty
  // buffer from one holding a single empty line.
  private data = "";
  private hasData = false;
  private type = "";
  // The last event ID buffer, which the standard never resets on dispatch.
  private lastId: string;
  // The last event ID string: the buffer as of the last dispatch.
  private committed: string;
  // The id field of the block being read, if it had a valid one.
  private blockId: string | undefined = undefined;
  /**
   * Told of a dispatch that sends no event but changes the last event ID
   * string (an id-only block): a relay that forwards the stream must
   * forward it too, or its client resumes from the wrong id.
   */
  idOnly: ((lastEventId: string) => void) | undefined = undefined;

  constructor(
    private readonly max: number,
    lastEventId: string,
    private readonly callbacks: FieldCallbacks,
  ) {
    // The standard starts the last event ID buffer empty on every
    // connection; a resumed stream starts it from the id it resumes from
    // instead, or the first dispatch would wipe that id.
    this.lastId = this.committed = lastEventId;
  }

  get lastEventId(): string {
    return this.committed;
  }

  /** Whether no line of an event is buffered: the next line opens one. */
  get idle(): boolean {
    return !this.hasData && this.type === "" && this.blockId === undefined;
  }

  /** Dispatches events read by other means, ending at last event ID `id`. */
  commit(id: string): void {
    this.lastId = this.committed = id;
  }

  line(s: string, start: number, end: number): void {
    // "If the line is empty (a blank line): Dispatch the event".
    if (start === end) return this.dispatch();
    const field = fieldOf(s, start, end);
    // "Otherwise: The field is ignored."
    if (field === undefined) return;
    // "Collect the characters on the line after the first U+003A COLON
    // character (:) ... If value starts with a U+0020 SPACE character,
    // remove it from value": one space, never more. No colon: value "".
    let v = start + field.length + 1;
    if (v < end && s.charCodeAt(v) === SPACE) v++;
    const value = v < end ? s.slice(v, end) : "";
    switch (field) {
      case "data":
        // "Append the field value to the data buffer, then append a single
        // U+000A LINE FEED (LF) character to the data buffer": kept here
        // without the final LF, which step 3 of dispatch removes anyway.
        if (this.hasData) this.data = this.data + "\n" + value;
        else {
          this.data = value;
          this.hasData = true;
        }
        if (this.data.length > this.max) throw tooBig("event data", this.max);
        return;
      case "event":
        // "Set the event type buffer to the field value."
        this.type = value;
        return;
      case "id":
        // "If the field value does not contain U+0000 NULL, then set the
        // last event ID buffer to the field value. Otherwise, ignore the
        // field": no id can smuggle a NUL into a Last-Event-ID header.
        if (value.indexOf("\0") === -1) this.lastId = this.blockId = value;
        return;
      case "retry":
        // "If the field value consists of only ASCII digits, then interpret
        // the field value as an integer in base ten": an empty value holds
        // no number, so it is ignored like any other non-digit value.
        if (value === "" || this.callbacks.onRetry === undefined) return;
        for (let i = 0; i < value.length; i++) {
          const c = value.charCodeAt(i);
          if (c < 48 || c > 57) return;
        }
        return this.callbacks.onRetry(Number(value));
      case "":
        // "Ignore the line": the caller may still want to see it.
        return this.callbacks.onComment?.(value);
    }
  }

  /**
   * §9.2.6: "Once the end of the file is reached, any pending data must be
   * discarded": an event without its blank line is.
   */
  end(): void {
    this.data = "";
    this.hasData = false;
    this.type = "";
    this.blockId = undefined;
  }

  // "Dispatch the event".
  private dispatch(): void {
    // Step 1: "Set the last event ID string of the event source to the
    // value of the last event ID buffer. The buffer does not get reset":
    // on every dispatch, even one that step 2 ends.
    const moved = this.lastId !== this.committed;
    const lastEventId = this.committed = this.lastId;
    const type = this.type;
    const id = this.blockId;
    this.type = "";
    this.blockId = undefined;
    // Step 2: "If the data buffer is an empty string, set the data buffer
    // and the event type buffer to the empty string and return."
    if (!this.hasData) {
      if (moved) this.idOnly?.(lastEventId);
      return;
    }
    const data = this.data;
    this.data = "";
    this.hasData = false;
    // Steps 4 to 6: the event's type ("message" when the event type buffer
    // is empty), data and last event ID, and here also its own id field.
    this.callbacks.emit(
      id === undefined
        ? { type: type === "" ? "message" : type, data, lastEventId }
        : { type: type === "" ? "message" : type, data, lastEventId, id },
    );
  }
}
