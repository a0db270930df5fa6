/**
 * The ways into a stream's body that only ssekit itself takes, past the
 * public `Response` of {@linkcode createSSEStream}; nothing here is exported
 * from the package, so users can neither forge nor reach them. Each saves
 * a cost on the delivery path that the public road would pay per event or
 * per connection:
 *
 * - A relay's batch ({@linkcode formattedBatch}, src/relay/_events.ts): text the
 *   relay already formatted and validated crosses into the body as one
 *   item, not re-parsed and re-formatted event by event.
 * - A hub's frozen store entries ({@linkcode sharedEncoding}): one entry
 *   fanned out to thousands of streams is formatted and encoded once, and
 *   its bytes shared by every stream that sends it.
 * - A hub's subscriptions ({@linkcode PushSource}, src/_hub_subscription.ts):
 *   they hand events to the body as they come, with no iterator result,
 *   promise or watcher per event.
 * - The Node adapter ({@linkcode adoptSSEBody}, src/node.ts): it takes the
 *   body out of its `ReadableStream` and drives it itself, so no stream,
 *   reader or read per chunk stands between the body and the socket.
 *
 * It also holds the one `TextEncoder` of every stream, which the shared
 * encodings are made with.
 *
 * (A little over ~150 lines: the shortcuts belong together, so that what
 * crosses module boundaries is read in one place.)
 *
 * @module
 */

import { formatEvent } from "./encode.ts";
import type { SSEEvent } from "./types.ts";
import type { SharedClock } from "./_shared_clock.ts";

/** The encoder of every stream's text: it keeps no state between calls. */
export const encoder: TextEncoder = new TextEncoder();

/**
 * Marks text that ssekit's own producers (the relay) already formatted and
 * validated with formatEvent, so a batch of events crosses into the stream
 * as one item. Not exported from the package: users cannot forge it.
 */
const FORMATTED: unique symbol = Symbol("ssekit.formatted");

/** A batch of events already formatted by {@linkcode formatEvent}. */
interface FormattedEvents {
  readonly [FORMATTED]: string;
}

/**
 * One item carrying `text`, events already formatted and validated, for a
 * stream's source to yield in place of the events.
 */
export function formattedBatch(text: string): SSEEvent {
  return { [FORMATTED]: text } as FormattedEvents as SSEEvent;
}

/** The text of a batch of formatted events, or undefined for any other item. */
export function formattedText(item: unknown): string | undefined {
  return (item as Partial<FormattedEvents> | null)?.[FORMATTED];
}

/** An event's text, and its bytes. */
export interface Encoded {
  text: string;
  bytes: Uint8Array;
}

// The text and bytes of frozen events, shared by every stream that sends
// one: a hub fans one frozen entry out to thousands of streams. Freezing is
// shallow, so only events whose data is a string (or absent) qualify.
const sharedEncodings = new WeakMap<object, Encoded>();

/** The encoding every stream shares of a frozen event, or undefined. */
export function sharedEncoding(item: unknown): Encoded | undefined {
  if (typeof item !== "object" || item === null || !Object.isFrozen(item)) {
    return undefined;
  }
  const { data } = item as SSEEvent;
  if (data !== undefined && typeof data !== "string") return undefined;
  let encoded = sharedEncodings.get(item);
  if (encoded === undefined) {
    const text = formatEvent(item as SSEEvent);
    encoded = { text, bytes: encoder.encode(text) };
    sharedEncodings.set(item, encoded);
  }
  return encoded;
}

/**
 * A source that hands its events to the body as they come instead of being
 * iterated: the hub's subscriptions. `pushTo(receiver)` hands the receiver
 * what is ready, and goes on handing it events as they come for as long as
 * it asks for more; `return()` ends it. A class, so only ssekit's own
 * sources (it is not exported from the package) are taken for one.
 */
export abstract class PushSource {
  /**
   * The clock the watchdogs of the streams it feeds share, if any (see
   * _shared_clock.ts).
   */
  get clock(): SharedClock | undefined {
    return undefined;
  }
  /** Hands `receiver` events while it asks for more. */
  abstract pushTo(receiver: PushReceiver): void;
  /** Ends the source. */
  abstract return(): unknown;
}

/** What a {@linkcode PushSource} hands its events to: the body. */
export interface PushReceiver {
  /**
   * Takes an event; `more` says whether another is ready at once, so the
   * events ready together share a chunk. Returns whether it takes another
   * now: otherwise the source keeps its events until the next `pushTo`.
   */
  deliver(value: unknown, more: boolean): boolean;
  /** The source ended, or failed with `failure.reason`. */
  sourceEnded(failure?: { reason: unknown }): void;
}

/**
 * Where a body's bytes go: the controller of its `ReadableStream`, or a
 * server that adopted the body (see {@linkcode adoptSSEBody}).
 */
export interface SSESink {
  /** Whether more is wanted: the body takes events only while this is above 0. */
  readonly desiredSize: number | null;
  /** Sends bytes. */
  enqueue(chunk: Uint8Array): void;
  /**
   * Whether the sink neither changes nor hands on the bytes it is given
   * (node:http only writes them out), so bytes that many streams send (a
   * hub's event) can be given to it as they are, not copied per stream.
   */
  readonly keepsBytesIntact?: boolean;
  /** Ends the body. */
  close(): void;
  /** Gives the body up: the connection is dropped rather than ended. */
  error(reason: unknown): void;
}

/** A body taken out of its `ReadableStream` by {@linkcode adoptSSEBody}. */
export interface AdoptedSSEBody {
  /** Whether the stream is over: ended, failed or cancelled. */
  readonly finished: boolean;
  /** Starts writing to `sink`, first the stream's opening line. */
  begin(sink: SSESink): void;
  /** Takes events while the sink has demand, as a stream's `pull` does. */
  pull(): Promise<void> | void;
  /** Ends the stream early, as a stream's `cancel` does. */
  cancel(reason: unknown): void;
}

// Bodies not yet read, by their stream, for adoptSSEBody. Weak: a Response
// that is never served must not be kept.
const unread = new WeakMap<ReadableStream<Uint8Array>, AdoptedSSEBody>();

/** Lets {@linkcode adoptSSEBody} take `body` out of `stream`. */
export function offerForAdoption(
  stream: ReadableStream<Uint8Array>,
  body: AdoptedSSEBody,
): void {
  unread.set(stream, body);
}

/**
 * Takes the body of a {@linkcode createSSEStream} response out of its
 * `ReadableStream`, so a server that writes bytes itself (`ssekit/node`)
 * drives it directly: no stream, reader or read per chunk in between, and
 * an idle connection keeps none of them. Returns undefined for any other
 * body, or one already read, locked or ended; the stream is then read as
 * usual. Once adopted, the stream must not be read.
 */
export function adoptSSEBody(response: Response): AdoptedSSEBody | undefined {
  const stream = response.body;
  if (stream === null || response.bodyUsed || stream.locked) return undefined;
  const body = unread.get(stream);
  if (body === undefined || body.finished) return undefined;
  unread.delete(stream);
  return body;
}
