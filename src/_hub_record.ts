/**
 * What `publish` and `end` store: the event given, checked and with its
 * data serialized, once, before any subscriber sees it.
 *
 * @module
 */

import { formatEvent } from "./encode.ts";
import type { SSEEvent } from "./types.ts";
import type { HubRecord } from "./store.ts";
import { jsonEvent } from "./events.ts";
import { describe } from "./_checks.ts";

/** How a hub turns events into records. */
export interface RecordOptions {
  /** Typed topics: every event's data is stored as JSON. */
  readonly typed: boolean;
  readonly serialize: ((data: unknown) => string) | undefined;
}

/**
 * The record of a published event; throws a `TypeError` for an event the
 * stream could not send, or one with an `id` (the hub assigns ids).
 */
export function hubRecord(
  given: SSEEvent | string,
  options: RecordOptions,
): HubRecord {
  const event = options.typed ? jsonEvent(given) : given;
  if (typeof event === "string") return { data: event };
  if (typeof event !== "object" || event === null) {
    throw new TypeError(
      `Invalid published event: expected a string or an object with data, event, retry or comment, got ${
        describe(event)
      }`,
    );
  }
  if (event.id !== undefined) {
    throw new TypeError(
      `Invalid published event: the hub assigns ids and publish() resolves to the new one; remove the "id" field, got ${
        describe(event.id)
      }`,
    );
  }
  const { data, event: type, retry, comment } = event;
  const record: {
    -readonly [K in keyof HubRecord]: HubRecord[K];
  } = {};
  if (type !== undefined) record.event = type;
  if (retry !== undefined) record.retry = retry;
  if (comment !== undefined) record.comment = comment;
  if (data !== undefined) {
    const text = typeof data === "string"
      ? data
      : (options.serialize ?? JSON.stringify)(data);
    if (typeof text !== "string") {
      throw new TypeError(
        `Invalid SSE event field "data": serialize must return a string, got ${typeof text}`,
      );
    }
    record.data = text;
  }
  // Validates every field exactly as the stream will format it.
  formatEvent(record as SSEEvent);
  return record;
}
