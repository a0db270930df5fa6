/**
 * The coalescer of a stream's body: events are formatted into pending text
 * as they come, and the events ready at once go out as one chunk, flushed
 * as soon as no more are coming (a few microtask turns pass without one,
 * or a long burst ends) or the chunk is full. An event is never held back
 * waiting for a later one.
 *
 * Functions on the body's own state, not an object of their own: a stream
 * sitting idle keeps nothing more than its fields. (A little over ~150
 * lines: take, flush and the idle watcher share the pending text.)
 *
 * @module
 */

import { formatEvent, type FormatEventOptions } from "./encode.ts";
import type { SSEEvent } from "./types.ts";
import { jsonEvent } from "./events.ts";
import {
  type Encoded,
  encoder,
  formattedText,
  sharedEncoding,
  type SSESink,
} from "./_body_shortcuts.ts";
import { clearTask, setTask } from "./_next_task.ts";

// Events ready within this many microtask turns of each other share a chunk.
// An async generator that does not await between yields needs about two.
const IDLE_TURNS = 8;
// Counting turns costs a promise job per turn, more than formatting a short
// event. Once this many turns of one burst have brought events, the watcher
// stops counting and waits for the next task instead: tasks run only when
// the microtask queue is empty, so the producer has stopped producing
// synchronously by then, and a long burst pays one task instead of two jobs
// per event.
const BURST_TURNS = 16;
// A coalesced chunk is flushed once it holds this many characters; 16 KiB is
// also the largest TLS record, so bigger chunks would be split anyway.
const CHUNK_CHARS = 16_384;
// Scheduling a turn on a settled promise is cheaper than queueMicrotask,
// which Node wraps for async hooks; the watcher schedules one per turn.
const RESOLVED = Promise.resolve();

/** What the coalescer keeps and needs of its body. */
export interface Coalescing {
  /** Whole events formatted but not yet enqueued. */
  pending: string;
  /** The shared encoding of the pending text, while it is one shared event. */
  pendingShared: Encoded | undefined;
  /**
   * Whether JavaScript was handed the body or its bytes (see
   * _sse_response.ts): from then on, shared bytes are copied for it.
   */
  readonly exposed: boolean;
  /** Set after an event is written (see Watched). */
  quiet: boolean;
  /** Events appended so far: tells the idle watcher whether more arrive. */
  appended: number;
  watching: boolean;
  /** The task that ends a long burst, while the watcher waits for it. */
  burstTask: unknown;
  /** Whether a read waits for events; cleared by a flush (see SSEBody). */
  wanted: boolean | undefined;
  readonly controller: SSESink;
  readonly finished: boolean;
  /** A typed stream: every event's data goes as JSON. */
  readonly typed: boolean;
  readonly options: FormatEventOptions;
  /**
   * Adds formatted text, and its shared encoding if any, to the pending
   * text: a method, so HookedSSEBody can count the events in it.
   */
  append(text: string, shared?: Encoded): void;
  /** Enqueues bytes; whether they were written. */
  write(bytes: Uint8Array): boolean;
  /** Ends the stream on a bad event. */
  fail(error: unknown, sourceOpen: boolean): void;
}

/**
 * Formats an event into the pending text, and has the watcher flush it if
 * `watch`; false when it ended the stream.
 */
export function take(
  body: Coalescing,
  item: unknown,
  watch: boolean,
): boolean {
  let text: string;
  let shared: Encoded | undefined;
  try {
    if (body.typed) item = jsonEvent(item as SSEEvent | string);
    if (typeof item === "string") text = formatEvent(item);
    else {
      shared = sharedEncoding(item);
      text = shared?.text ?? formattedText(item) ??
        formatEvent(item as SSEEvent, body.options);
    }
  } catch (error) {
    body.fail(error, true);
    return false;
  }
  if (text !== "") {
    body.append(text, shared);
    body.appended++;
    if (body.pending.length >= CHUNK_CHARS) flush(body);
    else if (watch && !body.watching) watchIdle(body);
  }
  return true;
}

/** Writes the pending text as one chunk. */
export function flush(body: Coalescing): void {
  if (body.pending === "") return;
  // Bytes shared by many streams are copied for a reader JavaScript
  // holds: it may change or transfer the chunks it reads (the fetch
  // standard lets a user agent detach them, whatwg/fetch#330), which
  // would take the event from every other stream. A sink that keeps them
  // intact, or the runtime's own server reading a body JavaScript never
  // saw (see _sse_response.ts), gets them as they are.
  const shared = body.pendingShared;
  const bytes = shared === undefined
    ? encoder.encode(body.pending)
    : body.controller.keepsBytesIntact || !body.exposed
    ? shared.bytes
    : shared.bytes.slice();
  body.pending = "";
  body.pendingShared = undefined;
  if (body.wanted) body.wanted = false;
  body.quiet = false;
  body.write(bytes);
}

// Flushes the pending events once IDLE_TURNS microtask turns pass without
// another event, so a burst shares a chunk but nothing waits on the
// future; a long burst is flushed by the next task instead (see
// BURST_TURNS).
function watchIdle(body: Coalescing): void {
  let seen = body.appended;
  let idle = 0;
  let busy = 0;
  const turn = () => {
    if (body.finished || body.pending === "") {
      body.watching = false;
    } else if (body.appended !== seen) {
      seen = body.appended;
      idle = 0;
      if (++busy < BURST_TURNS) RESOLVED.then(turn);
      else body.burstTask = setTask(() => endBurst(body));
    } else if (++idle < IDLE_TURNS) {
      RESOLVED.then(turn);
    } else {
      body.watching = false;
      flush(body);
    }
  };
  body.watching = true;
  RESOLVED.then(turn);
}

function endBurst(body: Coalescing): void {
  body.burstTask = undefined;
  body.watching = false;
  if (!body.finished) flush(body);
}

/** Cancels a long burst's task: an ended stream leaves no timer behind. */
export function stopWatching(body: Coalescing): void {
  if (body.burstTask !== undefined) clearTask(body.burstTask);
}
