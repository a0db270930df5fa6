/**
 * The relay's work on each upstream chunk: the chunk is parsed at once and
 * its messages mapped without a promise apiece, so that the relay keeps
 * pace with the bytes, and what they make is sent as one batch of text.
 * `relay.ts` holds the public API, the options and the upstream request.
 * (Over ~150 lines by the small helpers of that one loop, which read best
 * beside it.)
 *
 * @module
 */

import { RelayReader } from "./_verbatim.ts";
import { ClientIds } from "./_client_ids.ts";
import { formatEvent, formatHead } from "../encode.ts";
import { formattedBatch } from "../_body_shortcuts.ts";
import type { SSEStreamOptions } from "../stream.ts";
import type { SSEEvent, SSEMessage } from "../types.ts";
import { isThenable } from "../_checks.ts";
import { jsonEvent } from "../events.ts";
import type { RelaySSEOptions } from "../relay.ts";

function passThrough(message: SSEMessage): SSEEvent {
  return {
    event: message.type === "message" ? undefined : message.type,
    data: message.data,
    id: message.id,
  };
}

// A `retry` field as the upstream sent it (ASCII digits only: the parser
// passes on no other). Past 2^53 the number is no longer exact, and the
// largest exact one says the same: wait very long.
function retryLine(ms: number): string {
  return `retry: ${Math.min(ms, Number.MAX_SAFE_INTEGER)}\n`;
}

// The text of `event`, made of `message`. One that keeps the message's data
// takes the upstream's text of it, its tail (see RelayReader), when there
// is one, rather than formatting the data again: the common map renames,
// drops or re-tags events, and most of an event's text is its data.
function eventText(
  event: SSEEvent | string,
  message: SSEMessage,
  tail: string | undefined,
  options: SSEStreamOptions,
): string {
  if (tail !== undefined) {
    if (typeof event === "string") {
      if (event === message.data) return tail;
    } else if (
      typeof event === "object" && event !== null &&
      event.data === message.data
    ) {
      return formatHead(event) + tail;
    }
  }
  return formatEvent(event, options);
}

// A typed map's result with its events' data as JSON.
function jsonResult(
  result: SSEEvent | string | Iterable<SSEEvent | string>,
): SSEEvent | SSEEvent[] {
  if (typeof result === "string" || !isEventList(result)) {
    return jsonEvent(result as SSEEvent | string);
  }
  return Array.from(result, jsonEvent);
}

function isEventList(value: unknown): value is Iterable<SSEEvent | string> {
  return typeof value === "object" && value !== null &&
    typeof (value as Iterable<unknown>)[Symbol.iterator] === "function";
}

/** What {@linkcode relayEvents} needs of the relay's options. */
export interface RelayEventOptions {
  map: RelaySSEOptions["map"];
  /** Whether the map's events go with JSON data (a typed relay). */
  typed: boolean;
  lastEventId: string;
  streamOptions: SSEStreamOptions;
}

/**
 * The events to send for the upstream body `reader`, chunk by chunk, as
 * batches of formatted text.
 */
export async function* relayEvents(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  { map, typed, lastEventId, streamOptions }: RelayEventOptions,
): AsyncGenerator<SSEEvent, void, undefined> {
  // Each upstream chunk is parsed at once and its messages mapped
  // without a promise apiece: the relay keeps pace with the bytes.
  // Without a map, events already in the form passThrough then
  // formatEvent would give come as their text (a string here), neither
  // parsed into messages nor formatted again (see RelayReader), and so
  // do the lines that change the client's state without an event:
  // `retry`, and an id-only block.
  const messages: (SSEMessage | string)[] = [];
  const tails: (string | undefined)[] = [];
  const collect = (item: SSEMessage | string, tail?: string) => {
    messages.push(item);
    tails.push(tail);
  };
  // Ids (WHATWG "dispatch the event", step 1): a client of the relay
  // must hold the upstream's last event id at each event, as a client
  // of the upstream would, or it resumes from the wrong one. Passed
  // through, every change of it is forwarded where it happens. Mapped,
  // messages may be dropped and events renamed, so the relay tracks the
  // id its client holds (see ClientIds).
  const ids = map ? new ClientIds(lastEventId) : undefined;
  const parser = new RelayReader(
    {
      lastEventId,
      onRetry: (ms) => collect(retryLine(ms)),
    },
    {
      message: collect,
      verbatim: map ? undefined : collect,
      idOnly: ids ? undefined : (id) => collect(formatEvent({ id })),
    },
  );
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    parser.push(value);
    let text = "";
    try {
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i];
        if (typeof message === "string") {
          text += message;
          continue;
        }
        let result = map ? map(message) : passThrough(message);
        if (isThenable(result)) {
          // Nothing waits on a slow map: what is ready goes out first.
          if (text !== "") {
            yield formattedBatch(text);
          }
          text = "";
          result = await result;
        }
        if (result === undefined) {
          continue;
        }
        if (typed) result = jsonResult(result)!;
        if (typeof result === "string" || !isEventList(result)) {
          const event = ids ? ids.give(result, message.lastEventId) : result;
          text += eventText(event, message, tails[i], streamOptions);
        } else {
          for (let event of result) {
            if (ids) event = ids.give(event, message.lastEventId);
            text += formatEvent(event, streamOptions);
          }
        }
      }
      if (ids) text += ids.settle(parser.lastEventId);
    } finally {
      // Events before a failing one are sent; the failure then ends
      // the stream through onError.
      messages.length = tails.length = 0;
      if (text !== "") {
        yield formattedBatch(text);
      }
    }
  }
}
